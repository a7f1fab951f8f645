"""The Mesos driver API through the gateway of a real app, for end-to-end tests."""

from __future__ import annotations

import pathlib
from typing import Any

from aiohttp import web

from bcs import app as app_mod
from bcs import keys
from bcs.core import registry
from bcs.plugins.mesos import scheduler
from bcs.sim.mesos import sim
from bcs.testing import ADMIN_TOKEN, embedded_settings
from tests.plugins.mesos.conftest import CLUSTER
from tests.services import eventually

MESOS = "/bcsapi/v4/scheduler/mesos/namespaces/defaultGroup"
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}", "BCS-ClusterID": CLUSTER}


async def serve(
    aiohttp_client: Any, tmp_path: pathlib.Path, mesos: sim.MesosSim, **mesos_settings: Any
) -> Any:
    """A client of an app leading ``CLUSTER`` on ``mesos`` (embedded ports, no TLS)."""
    settings = embedded_settings(
        tmp_path / "data",
        server={"tls": "off"},
        plugins={"mesos": {"tick": 0.1, "watch_interval": 0.1, "election_ttl": 3, **mesos_settings}},
    )
    app = app_mod.create_app(settings)
    client = await aiohttp_client(app)
    await app[keys.CLUSTERS].add_cluster(
        registry.Cluster(
            clusterID=CLUSTER, engineType="mesos", environment="stag", extra={"masters": [mesos.url]}
        )
    )

    async def ready() -> bool:
        async with client.get(f"{MESOS}/applications", headers=HEADERS) as r:
            return r.status == 200

    await eventually(ready, what="the Mesos scheduler leads and serves")
    return client


def scheduler_of(client: Any) -> scheduler.Scheduler:
    app: web.Application = client.app
    sched = app[keys.BACKENDS]["mesos"].runners[CLUSTER].scheduler  # type: ignore[attr-defined]
    assert sched is not None
    return sched


async def get(client: Any, path: str, *, headers: dict[str, str] = HEADERS) -> Any:
    async with client.get(path, headers=headers) as r:
        body = await r.json()
        assert r.status == 200, body
        return body["data"]


async def call(client: Any, method: str, path: str, *, json: Any = None, status: int = 200) -> Any:
    async with client.request(method, path, json=json, headers=HEADERS) as r:
        body = await r.json()
        assert r.status == status, body
        return body
