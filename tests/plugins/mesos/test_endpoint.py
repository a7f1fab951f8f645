"""The Mesos driver's own registration in the KV port (bk-bcs §1.6), on SQLite and on real etcd:
the leased key appears while the cluster is led, comes back when deleted, goes on a clean shutdown,
and expires with its lease when the process dies without cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import sqlite3
from typing import Any

import orjson
import pytest

from bcs import app as app_mod
from bcs import config, errors, keys
from bcs.core import registry
from bcs.core.kv import sqlite
from bcs.plugins.mesos import backend, endpoint
from bcs.sim.mesos import sim
from bcs.testing import ADMIN_TOKEN, embedded_settings
from tests import services
from tests.plugins.mesos.conftest import CLUSTER
from tests.plugins.mesos.served import BcsProcess
from tests.services import eventually

MESOS = "/bcsapi/v4/scheduler/mesos/namespaces/defaultGroup"
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}", "BCS-ClusterID": CLUSTER}


def _key(prefix: str, ip: str = "127.0.0.1") -> str:
    return f"{prefix}services/endpoints/mesosdriver/{CLUSTER}/{ip}"


def _kv_section(kind: str, prefix: str, etcd_url: str | None) -> dict[str, Any]:
    if kind == "etcd":
        return {"backend": "etcd", "endpoints": [etcd_url], "prefix": prefix}
    return {"backend": "sqlite", "prefix": prefix}


def test_the_advertised_address() -> None:
    server = config.ServerSettings(host="127.0.0.1", port=8443, tls="auto")
    info = endpoint.driver_info(CLUSTER, driver_address="", server=server)
    assert info is not None
    assert (info.scheme, info.ip, info.port, info.cluster, info.pid) == (
        "https",
        "127.0.0.1",
        8443,
        CLUSTER,
        os.getpid(),
    )
    off = config.ServerSettings(host="127.0.0.2", port=8080, tls="off")
    assert endpoint.driver_info(CLUSTER, driver_address="", server=off).url == "http://127.0.0.2:8080"
    # port 0 is only known once listening: nothing is advertised
    assert endpoint.driver_info(CLUSTER, driver_address="", server=config.ServerSettings(port=0)) is None
    given = endpoint.driver_info(CLUSTER, driver_address="http://127.0.0.9:9090", server=off)
    assert given.url == "http://127.0.0.9:9090"
    for bad in ("127.0.0.1:80", "ftp://127.0.0.1:21", "http://127.0.0.1", "http://127.0.0.1:80/x"):
        with pytest.raises(errors.ConfigError, match="driver_address"):
            config.build_section(
                backend.MesosSettings, {"driver_address": bad}, source="<test>", path="plugins.mesos"
            )


@pytest.mark.parametrize("kind", services.KV_KINDS)
async def test_the_leader_registers_reregisters_and_deregisters(
    kind: str, request: pytest.FixtureRequest, aiohttp_client, tmp_path: pathlib.Path, mesos: sim.MesosSim
) -> None:
    etcd_url = request.getfixturevalue("etcd_endpoint") if kind == "etcd" else None
    prefix = services.unique_prefix("driver")
    port = services.free_port()
    settings = embedded_settings(
        tmp_path / "data",
        server={"tls": "off", "port": port},
        kv=_kv_section(kind, prefix, etcd_url),
        plugins={
            "disabled": ["k8s", "federation"],
            "mesos": {"tick": 0.1, "election_ttl": 3, "driver_ttl": 2, "driver_reregister_delay": 0.05},
        },
    )
    app = app_mod.create_app(settings)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    store = app[keys.KV]
    await app[keys.CLUSTERS].add_cluster(
        registry.Cluster(
            clusterID=CLUSTER, engineType="mesos", environment="stag", extra={"masters": [mesos.url]}
        )
    )
    key = _key(prefix)
    found = await eventually(lambda: store.get(key), what="the driver endpoint")
    info = orjson.loads(found.value)
    assert info["ip"] == "127.0.0.1"
    assert info["port"] == port
    assert info["scheme"] == "http"
    assert info["cluster"] == CLUSTER
    assert info["pid"] == os.getpid()
    assert found.lease != 0
    # the gateway of this very process answers in process (no loopback hop through its own driver)
    async with client.get(f"{MESOS}/applications", headers=HEADERS) as r:
        assert r.status == 200, await r.text()
    # the driver end: the header must name a Mesos cluster (upstream's code 1 error)
    async with client.get(
        "/mesosdriver/v4/namespaces/defaultGroup/applications",
        headers={**HEADERS, "BCS-ClusterID": "BCS-MESOS-19999"},
    ) as r:
        assert r.status == 400
        assert await r.json() == {
            "result": False,
            "code": 1,
            "message": "ClusterId BCS-MESOS-19999 is invalid",
            "data": None,
        }
    async with client.get("/mesosdriver/v4/namespaces/defaultGroup/applications", headers=HEADERS) as r:
        assert r.status == 200
        assert (await r.json())["data"] == []
    no_token = {"BCS-ClusterID": CLUSTER}  # not a public path here: the driver API wants a token
    async with client.get("/mesosdriver/v4/namespaces/defaultGroup/applications", headers=no_token) as r:
        assert r.status == 401

    await store.delete(key)
    again = await eventually(lambda: store.get(key), what="the endpoint registered again")
    assert orjson.loads(again.value)["pid"] == os.getpid()

    await client.close()  # a clean shutdown revokes the lease
    if kind == "etcd":
        async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=etcd_url) as other:
            assert await other.get(key) is None
            await other.delete_prefix(prefix)
    else:
        other = sqlite.SqliteKV(tmp_path / "data" / "kv.sqlite3", config.KvSettings())
        await other.start()
        try:
            assert await other.get(key) is None
        finally:
            await other.close()


@pytest.mark.parametrize("kind", services.KV_KINDS)
async def test_a_killed_driver_leaves_its_endpoint_to_the_lease(
    kind: str, request: pytest.FixtureRequest, tmp_path: pathlib.Path, mesos: sim.MesosSim
) -> None:
    etcd_url = request.getfixturevalue("etcd_endpoint") if kind == "etcd" else None
    prefix = services.unique_prefix("driver")
    served = BcsProcess(tmp_path, CLUSTER, [mesos.url], _kv_section(kind, prefix, etcd_url))
    served.start()
    try:
        await eventually(served.leads, timeout=60, what="bcs serve leading the cluster")
        if kind == "etcd":
            async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=etcd_url) as store:
                found = await eventually(lambda: store.get(_key(prefix)), what="the endpoint")
                assert orjson.loads(found.value)["pid"] == served.process.pid
                assert orjson.loads(found.value)["port"] == served.port
                await asyncio.to_thread(served.kill)
                await eventually(
                    lambda: _gone(store, _key(prefix)), timeout=20, what="the endpoint expired with its lease"
                )
                await store.delete_prefix(prefix)
            return
        # The driver API answers before the endpoint key is written: wait for the key (a read-only
        # look at the process's SQLite file, which stays WAL-readable while it runs), then kill.
        await eventually(
            lambda: _sqlite_has(served.data_dir / "kv.sqlite3", _key(prefix)), timeout=20, what="the endpoint"
        )
        await asyncio.to_thread(served.kill)
    finally:
        await asyncio.to_thread(served.stop)
    # The embedded store kept the key in its file; its lease expires once nobody keeps it alive.
    store = sqlite.SqliteKV(served.data_dir / "kv.sqlite3", config.KvSettings())
    await store.start()
    try:
        left = await store.get(_key(prefix))
        assert left is not None
        assert left.lease != 0
        await eventually(lambda: _gone(store, _key(prefix)), timeout=20, what="the lease expired")
    finally:
        await store.close()


def _sqlite_has(path: pathlib.Path, key: str) -> bool:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone() is not None


async def _gone(store: Any, key: str) -> bool:
    return await store.get(key) is None


async def test_another_gateway_routes_to_the_registered_driver(
    aiohttp_client, tmp_path: pathlib.Path, mesos: sim.MesosSim, etcd_endpoint: str
) -> None:
    """Two processes on one etcd: the one without the Mesos plugin forwards to the other's driver."""
    prefix = services.unique_prefix("driver")
    kv = _kv_section("etcd", prefix, etcd_endpoint)
    served = BcsProcess(tmp_path, CLUSTER, [mesos.url], kv)
    served.start()
    try:
        await eventually(served.leads, timeout=60, what="bcs serve leading the cluster")
        settings = embedded_settings(
            tmp_path / "gateway",
            server={"tls": "off"},
            kv=kv,
            plugins={"disabled": ["k8s", "federation", "mesos"]},
        )
        app = app_mod.create_app(settings)
        client = await aiohttp_client(app)
        await eventually(lambda: app[keys.MESOS_DRIVERS].endpoints(CLUSTER), what="the driver seen")
        doc = {
            "apiVersion": "v4",
            "kind": "application",
            "metadata": {"name": "web", "namespace": "defaultGroup"},
            "spec": {
                "instance": 1,
                "template": {
                    "spec": {"containers": [{"image": "nginx:1", "resources": {"limits": {"cpu": "0.5"}}}]}
                },
            },
        }
        async with client.post(f"{MESOS}/applications", json=doc, headers=HEADERS) as r:
            assert r.status == 200, await r.text()

        async def running() -> bool:
            async with client.get(f"{MESOS}/applications/web/taskgroups", headers=HEADERS) as r:
                data = (await r.json())["data"]
                return r.status == 200 and [t["status"] for t in data] == ["Running"]

        await eventually(running, timeout=20, what="the application running through the other process")
        assert [t.state for t in mesos.tasks()] == ["TASK_RUNNING"]
        await asyncio.to_thread(served.kill)
        await eventually(
            lambda: not app[keys.MESOS_DRIVERS].endpoints(CLUSTER), timeout=20, what="the dead driver dropped"
        )
        async with client.get(f"{MESOS}/applications", headers=HEADERS) as r:
            assert r.status == 404  # no driver left and no backend here serves Mesos
    finally:
        await asyncio.to_thread(served.stop)
        async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=etcd_endpoint) as store:
            await store.delete_prefix(prefix)
