"""``/bcsapi/v4/scheduler/mesos/...``: routed by ``BCS-ClusterID`` to a registered Mesos driver
(a stand-in registers through :mod:`bcs.core.discovery`), else to the owning backend."""

from __future__ import annotations

import pathlib

import pytest
from aiohttp import test_utils, web

import bcs
from bcs import app as app_mod
from bcs import envelope, keys
from bcs.core import backend, discovery, registry
from bcs.testing import ADMIN_TOKEN
from tests import services
from tests.gateway import upstream
from tests.gateway.accounts import bearer

MESOS = "/bcsapi/v4/scheduler/mesos"
CID = "BCS-MESOS-10001"


class StandInDriver:
    """A plain HTTP server answering like a Mesos driver, recording the paths it is asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _any(self, request: web.Request) -> web.Response:
        self.paths.append(request.path_qs)
        body = await request.read()
        return envelope.ok(
            {"driver": True, "cluster": request.headers.get("BCS-ClusterID"), "size": len(body)}
        )

    async def __aenter__(self) -> StandInDriver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


class EchoMesos(backend.Backend):
    """A backend that answers the driver routes itself (as the in-process Mesos plugin will)."""

    engines = ("mesos",)

    @staticmethod
    def name() -> str:
        return "echo-mesos"

    async def handle_request(self, cluster: registry.Cluster, request: web.Request) -> web.StreamResponse:
        return envelope.ok(
            {"backend": self.name(), "cluster": cluster.clusterID, "path": request.match_info["path"]}
        )


class EchoPlugin:
    @bcs.hookimpl
    def bcs_register_backends(self, registry: backend.BackendRegistry) -> None:
        registry.add(EchoMesos)

    @bcs.hookimpl(tryfirst=True)
    def bcs_backend_for_cluster(self, cluster: registry.Cluster) -> str | None:
        return "echo-mesos" if cluster.engineType == "mesos" else None


@pytest.fixture
async def client(aiohttp_client, tmp_path: pathlib.Path, make_plugins) -> test_utils.TestClient:
    settings = upstream.gateway_settings(tmp_path / "data")
    app = app_mod.create_app(settings, plugins=make_plugins(("echo", EchoPlugin()), disabled=["mesos"]))
    client = await aiohttp_client(app)
    await app[keys.CLUSTERS].add_cluster(
        registry.Cluster(clusterID=CID, engineType="mesos", environment="stag")
    )
    return client


async def test_the_header_is_required_and_must_name_a_cluster(client: test_utils.TestClient) -> None:
    async with client.get(f"{MESOS}/namespaces/x/applications", headers=bearer(ADMIN_TOKEN)) as r:
        body = await r.json()
        assert (r.status, body["result"], body["code"]) == (400, False, 1405080)
        assert "BCS-ClusterID" in body["message"]
    headers = {**bearer(ADMIN_TOKEN), "BCS-ClusterID": "BCS-MESOS-19999"}
    async with client.get(f"{MESOS}/namespaces/x/applications", headers=headers) as r:
        assert r.status == 400
        assert "unknown cluster BCS-MESOS-19999" in (await r.json())["message"]


async def test_without_a_registered_driver_the_owning_backend_answers(client: test_utils.TestClient) -> None:
    headers = {**bearer(ADMIN_TOKEN), "BCS-ClusterID": CID}
    async with client.get(f"{MESOS}/namespaces/x/applications", headers=headers) as r:
        assert r.status == 200
        assert (await r.json())["data"] == {
            "backend": "echo-mesos",
            "cluster": CID,
            "path": "namespaces/x/applications",
        }


async def test_a_registered_driver_gets_the_request_on_its_own_path(client: test_utils.TestClient) -> None:
    app = client.app
    async with (
        StandInDriver() as driver,
        discovery.Registration(
            app[keys.KV],
            prefix=app[keys.SETTINGS].kv.prefix,
            module=discovery.MESOS_DRIVER,
            info=discovery.ServerInfo(ip="127.0.0.1", port=driver.port, cluster=CID),
        ),
    ):
        await services.eventually(lambda: app[keys.MESOS_DRIVERS].endpoints(CID), what="the driver seen")
        headers = {**bearer(ADMIN_TOKEN), "BCS-ClusterID": CID}
        async with client.post(
            f"{MESOS}/namespaces/x/applications?force=1", json={"a": 1}, headers=headers
        ) as r:
            assert r.status == 200
            assert (await r.json())["data"] == {"driver": True, "cluster": CID, "size": 8}
        assert driver.paths == ["/mesosdriver/v4/namespaces/x/applications?force=1"]
    await services.eventually(lambda: not app[keys.MESOS_DRIVERS].endpoints(CID), what="the driver gone")


async def test_a_backend_without_an_http_api_is_404(aiohttp_client, tmp_path: pathlib.Path) -> None:
    app = app_mod.create_app(upstream.gateway_settings(tmp_path / "data"))
    client = await aiohttp_client(app)
    await app[keys.CLUSTERS].add_cluster(
        registry.Cluster(clusterID=CID, engineType="mesos", environment="stag")
    )
    headers = {**bearer(ADMIN_TOKEN), "BCS-ClusterID": CID}
    async with client.get(f"{MESOS}/namespaces/x/applications", headers=headers) as r:
        assert r.status == 404
        assert "serves no HTTP API" in (await r.json())["message"]
