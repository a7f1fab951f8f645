"""The operators' metrics reach ``/metrics``: inside ``bcs serve`` labelled by cluster, and on the
standalone operator's ``--metrics-address``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pathlib
from typing import Any

import aiohttp
import pytest

from bcs import app as app_mod
from bcs import config, errors
from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import cli
from bcs.sim.kube import cluster
from tests.plugins.k8s.conftest import until
from tests.services import free_port

CID = "BCS-K8S-41001"


async def test_serve_exposes_each_clusters_operator_metrics(
    tmp_path: pathlib.Path, kube_sim: cluster.KubeSim, hook_crds: client.KubeClient, aiohttp_client: Any
) -> None:
    settings = config.BcsSettings.from_mapping(
        {
            "server": {"data_dir": str(tmp_path), "port": 0, "tls": "off"},
            "clusters": [
                {
                    "id": CID,
                    "server": kube_sim.url,
                    "ca_data": kube_sim.ca_pem.decode(),
                    "token": kube_sim.token,
                }
            ],
            "plugins": {"k8s": {"watch": False, "operators": ["hook", "gamedeployment"]}},
        },
        source="<test>",
        environ={},
    )
    http = await aiohttp_client(app_mod.create_app(settings))

    async def scraped() -> str | None:
        resp = await http.get("/metrics")
        assert resp.status == 200
        text = await resp.text()
        return text if f'bcs_gamedeployment_queue_depth{{cluster="{CID}"}} 0.0' in text else None

    text = await until(scraped, timeout=30, what="the operators' series on /metrics")
    assert text.count("# TYPE bcs_hookruns gauge") == 1
    assert "# TYPE bcs_gamedeployment_reconciles_total counter" in text
    assert "bcs_http_requests_total" in text  # the application's own registry is still there


async def test_standalone_operator_serves_metrics_on_its_address(
    kube_sim: cluster.KubeSim, hook_crds: client.KubeClient
) -> None:
    port = free_port()
    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    args = parser.parse_args(
        ["--kubeconfig", kube_sim.kubeconfig, "--operators", "gamedeployment",
         "--metrics-address", f"127.0.0.1:{port}", "--retry-period", "0.2"]
    )  # fmt: skip
    task = asyncio.create_task(cli._operator_main(args))
    try:
        async with aiohttp.ClientSession() as session:

            async def scraped() -> str | None:
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                        text = await resp.text()
                        return text if "bcs_gamedeployment_queue_depth 0.0" in text else None
                return None

            await until(scraped, timeout=30, what="the standalone operator's /metrics")
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("address", ["nohost", "127.0.0.1:http", "127.0.0.1:70000"])
def test_a_bad_metrics_address_is_a_config_error(address: str) -> None:
    with pytest.raises(errors.ConfigError, match="--metrics-address"):
        cli._host_port(address)
