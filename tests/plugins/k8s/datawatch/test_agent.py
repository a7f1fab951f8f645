"""``bcs agent watch``: the same data watch, run next to the cluster, writing over the storage HTTP API
of a ``bcs`` server (here ``create_app`` on a test server)."""

from __future__ import annotations

import argparse
import asyncio
import pathlib
from typing import Any

import pytest

from bcs import app as app_mod
from bcs import errors, keys
from bcs.plugins.k8s.datawatch import cli, sink
from bcs.sim.kube import cluster as sim_cluster
from bcs.testing import ADMIN_TOKEN, embedded_settings
from tests.plugins.k8s.datawatch import helpers
from tests.services import eventually


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    return parser.parse_args(list(argv))


async def test_agent_watch_keeps_a_remote_storage_equal_to_the_cluster(
    tmp_path: pathlib.Path, aiohttp_client: Any
) -> None:
    settings = embedded_settings(tmp_path / "data", server={"tls": "off"})
    client = await aiohttp_client(app_mod.create_app(settings))
    service = client.app[keys.STORAGE]
    config_file = tmp_path / "bcs.toml"
    config_file.write_text(
        "[plugins.k8s.data_watch]\nretry_base = 0.05\nretry_max = 0.5\nshards = 2\n"
        'exceptions = ["v1:Secret"]\n'
    )
    async with sim_cluster.KubeSim(nodes=2, seed=9, tls=True, node_heartbeat_interval=0) as sim:
        helpers.make_namespace(sim, "app")
        helpers.create(sim, "apps", "deployments", "app", helpers.deployment("web", 30))
        helpers.create(sim, "", "configmaps", "app", {"metadata": {"name": "conf"}, "data": {"k": "v"}})
        args = parse(
            "--storage", str(client.make_url("")),
            "--cluster-id", helpers.CID,
            "--kubeconfig", sim.kubeconfig,
            "--config", str(config_file),
            "--diff-interval", "600",
        )  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(
            cli.watch(args, stop, environ={"USER_TOKEN": ADMIN_TOKEN}), name="test.agent"
        )
        try:
            watch_settings = helpers.fast_settings()
            await eventually(
                lambda: (
                    len(helpers.objects(sim, "", "pods")) == 30
                    and all(p["status"].get("phase") == "Running" for p in helpers.objects(sim, "", "pods"))
                ),
                timeout=30,
                what="running pods",
            )
            await eventually(
                lambda: helpers.converged(sim, service, watch_settings),
                timeout=30,
                what="remote storage synced",
            )
            events = await sink.ServiceSink(service).stored_events(helpers.CID, 0)
            assert any(key.startswith("app/web-") for key, _ in events)
            helpers.create(sim, "", "configmaps", "app", {"metadata": {"name": "late"}, "data": {}})
            await eventually(
                lambda: helpers.converged(sim, service, watch_settings), timeout=30, what="a later change"
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def test_agent_watch_refuses_bad_arguments(tmp_path: pathlib.Path) -> None:
    args = parse("--storage", "http://127.0.0.1:1", "--cluster-id", helpers.CID, "--diff-interval", "0")
    with pytest.raises(errors.ConfigError, match="--diff-interval"):
        await cli.watch(args, asyncio.Event(), environ={})
    (tmp_path / "bad.toml").write_text("[plugins.k8s.data_watch]\nshards = 0\n")
    args = parse(
        "--storage", "http://127.0.0.1:1", "--cluster-id", helpers.CID, "--config", str(tmp_path / "bad.toml")
    )
    with pytest.raises(errors.ConfigError, match="shards"):
        await cli.watch(args, asyncio.Event(), environ={})
