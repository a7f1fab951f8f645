"""``[server] workers = N``: N processes on one port sharing state through etcd, MongoDB and RabbitMQ;
refused on the embedded adapters."""

from __future__ import annotations

import asyncio
import os
import pathlib

import aiohttp
import pytest

from bcs import cli
from tests import services
from tests.e2e import conftest

CM = "/bcsapi/v4/clustermanager/v1"


def test_workers_are_refused_on_embedded_adapters(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("BCS_SERVER__WORKERS", "2")
    monkeypatch.setenv("BCS_SERVER__DATA_DIR", str(tmp_path))
    assert cli.main(["serve", "--config", "config/bcs.toml"]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "server.workers = 2 needs shared state" in err
    assert "kv.backend = 'sqlite'" in err
    assert "bus.backend = 'memory'" in err


def _listeners(port: int) -> int:
    """How many sockets listen on ``port`` (SO_REUSEPORT lets each worker have its own)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


async def test_two_workers_share_the_port_and_the_state(
    tmp_path: pathlib.Path, etcd_endpoint: str, mongo_url: str, amqp_url: str
) -> None:
    env = {
        "BCS_SERVER__DATA_DIR": str(tmp_path / "data"),
        "BCS_SERVER__HOST": "127.0.0.1",
        "BCS_SERVER__WORKERS": "2",
        "BCS_KV__ENDPOINTS": f'["{etcd_endpoint}"]',
        "BCS_KV__PREFIX": services.unique_prefix("workers"),
        "BCS_MONGO_URL": mongo_url,
        "BCS_AMQP_URL": amqp_url,
        "BCS_STORE__DATABASE": f"bcs_workers_{os.getpid()}",
        "BCS_ADMIN_TOKEN": "workers-admin-token",
    }
    served = await asyncio.to_thread(conftest.serve, "--config", "config/bcs.production.toml", env=env)
    try:
        assert "with 2 workers" in "".join(served.output)
        port = int(served.url.rsplit(":", 1)[1])
        assert _listeners(port) == 2
        headers = {"Authorization": "Bearer workers-admin-token"}
        ssl = served.ssl_context()
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{served.url}{CM}/cluster", json={"clusterName": "shared"}, headers=headers, ssl=ssl
            ) as r,
        ):
            assert r.status == 200, await r.text()
            cluster_id = (await r.json())["data"]["clusterID"]
        for _ in range(20):  # a new connection each time: the kernel spreads them over both workers
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{served.url}{CM}/cluster/{cluster_id}", headers=headers, ssl=ssl) as r,
            ):
                assert r.status == 200
    finally:
        rc = await asyncio.to_thread(served.stop)
    assert rc == 0, "".join(served.output)
    assert _listeners(port) == 0
