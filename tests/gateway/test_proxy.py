"""The cluster reverse proxy against a simulated apiserver over TLS: verbs and roles, the token swap,
streaming (watch, logs -f), exec over WebSocket, and errors as Kubernetes Status objects."""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import test_utils

from bcs import app as app_mod
from bcs.sim.kube import cluster
from bcs.testing import ADMIN_TOKEN
from tests import services
from tests.gateway import upstream
from tests.gateway.accounts import bearer, grant, make_user

CID = "BCS-K8S-40001"
PODS = f"/clusters/{CID}/api/v1/namespaces/default/pods"


def _pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
    }


@pytest.fixture
async def sim() -> AsyncIterator[cluster.KubeSim]:
    async with cluster.KubeSim(nodes=1, tls=True, log_interval=0.05) as served:
        yield served


@pytest.fixture
async def client(aiohttp_client, tmp_path: pathlib.Path, sim: cluster.KubeSim) -> test_utils.TestClient:
    app = app_mod.create_app(upstream.gateway_settings(tmp_path / "data"))
    client = await aiohttp_client(app)
    await upstream.register(app, CID, server=sim.url, ca_pem=sim.ca_pem.decode(), token=sim.token)
    return client


async def _running(client: test_utils.TestClient, name: str) -> None:
    async def phase() -> bool:
        async with client.get(f"{PODS}/{name}", headers=bearer(ADMIN_TOKEN)) as r:
            return r.status == 200 and (await r.json())["status"].get("phase") == "Running"

    await services.eventually(phase, what=f"pod {name} running")


async def test_admin_reads_and_writes_through_the_gateway_with_the_clusters_token(
    client: test_utils.TestClient, sim: cluster.KubeSim
) -> None:
    # The simulated apiserver accepts only its own token: every 2xx below proves the swap.
    admin = bearer(ADMIN_TOKEN)
    async with client.get(f"/clusters/{CID}/version", headers=admin) as r:
        assert r.status == 200
        assert (await r.json())["minor"] == "32"
    async with client.post(PODS, json=_pod("web-1"), headers=admin) as r:
        assert r.status == 201, await r.text()
    async with client.get(PODS, headers=admin) as r:
        assert [p["metadata"]["name"] for p in (await r.json())["items"]] == ["web-1"]
    async with client.get(
        f"/tunnels/clusters/{CID}/api/v1/namespaces/default/pods/web-1", headers=admin
    ) as r:
        assert r.status == 200  # the legacy prefix reaches the same apiserver
    async with client.delete(f"{PODS}/web-1", headers=admin) as r:
        assert r.status == 200
    async with client.get(f"{PODS}/nosuch", headers=admin) as r:
        body = await r.json()
        assert (r.status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
        assert body["message"] == 'pods "nosuch" not found'  # the apiserver's own answer, passed on


async def test_watch_events_arrive_while_the_stream_stays_open(client: test_utils.TestClient) -> None:
    admin = bearer(ADMIN_TOKEN)
    async with client.get(PODS, headers=admin) as r:
        rv = (await r.json())["metadata"]["resourceVersion"]
    async with client.get(f"{PODS}?watch=true&resourceVersion={rv}", headers=admin) as watch:
        assert watch.status == 200
        async with client.post(PODS, json=_pod("web-2"), headers=admin) as r:
            assert r.status == 201
        line = await asyncio.wait_for(watch.content.readline(), 10)
        event = json.loads(line)
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "web-2")
        async with client.delete(f"{PODS}/web-2", headers=admin) as r:
            assert r.status == 200
        types = []
        while "DELETED" not in types:
            types.append(json.loads(await asyncio.wait_for(watch.content.readline(), 10))["type"])
        assert not watch.content.at_eof()


async def test_follow_logs_stream_before_they_end(client: test_utils.TestClient) -> None:
    admin = bearer(ADMIN_TOKEN)
    async with client.post(PODS, json=_pod("web-3"), headers=admin) as r:
        assert r.status == 201
    await _running(client, "web-3")
    async with client.get(f"{PODS}/web-3/log?container=main&follow=true", headers=admin) as logs:
        assert logs.status == 200
        first = await asyncio.wait_for(logs.content.readline(), 10)
        second = await asyncio.wait_for(logs.content.readline(), 10)
        assert first
        assert second
        assert not logs.content.at_eof()  # still following


async def test_exec_over_websocket_v5(client: test_utils.TestClient) -> None:
    admin = bearer(ADMIN_TOKEN)
    async with client.post(PODS, json=_pod("web-4"), headers=admin) as r:
        assert r.status == 201
    await _running(client, "web-4")
    url = f"{PODS}/web-4/exec?command=echo&command=hi&container=main&stdout=true&stderr=true"
    async with client.ws_connect(url, protocols=["v5.channel.k8s.io"], headers=admin) as ws:
        assert ws.protocol == "v5.channel.k8s.io"
        frames = [m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
        assert ws.close_code == 1000
    assert b"\x01hi\n" in frames
    assert frames[-1][:1] == b"\x03"
    assert json.loads(frames[-1][1:])["status"] == "Success"
    # A client that cannot set headers authenticates with the bearer subprotocol instead.
    encoded = base64.urlsafe_b64encode(ADMIN_TOKEN.encode()).decode().rstrip("=")
    protocols = ["v4.channel.k8s.io", f"base64url.bearer.authorization.k8s.io.{encoded}"]
    async with client.ws_connect(url, protocols=protocols) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        frames = [m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
    assert b"\x01hi\n" in frames


async def test_a_viewer_reads_but_cannot_write_or_exec(client: test_utils.TestClient) -> None:
    viewer = bearer(await make_user(client, "vera"))
    await grant(client, "vera", CID, "viewer")
    async with client.get(PODS, headers=viewer) as r:
        assert r.status == 200
    async with client.get(f"{PODS}?watch=1&timeoutSeconds=1", headers=viewer) as r:
        assert r.status == 200
    async with client.post(PODS, json=_pod("nope"), headers=viewer) as r:
        body = await r.json()
        assert (r.status, body["kind"], body["reason"]) == (403, "Status", "Forbidden")
        assert "create" in body["message"]
    async with client.get(f"{PODS}/x/exec?command=sh", headers={**viewer, "Upgrade": "websocket"}) as r:
        assert r.status == 403
    async with client.get(PODS, headers=bearer(ADMIN_TOKEN)) as r:
        assert [p["metadata"]["name"] for p in (await r.json())["items"]] == []  # nothing was created
    stranger = bearer(await make_user(client, "stan"))
    async with client.get(PODS, headers=stranger) as r:
        assert r.status == 403


async def test_errors_are_kubernetes_status_objects(client: test_utils.TestClient) -> None:
    async with client.get(PODS) as r:
        body = await r.json()
        assert (r.status, body["kind"], body["reason"], body["code"]) == (401, "Status", "Unauthorized", 401)
    async with client.get("/clusters/BCS-K8S-49999/api/v1/pods", headers=bearer(ADMIN_TOKEN)) as r:
        body = await r.json()
        assert (r.status, body["reason"]) == (404, "NotFound")
        assert "BCS-K8S-49999" in body["message"]
    async with client.get(
        f"{PODS}/x/exec?command=sh", headers={**bearer(ADMIN_TOKEN), "Upgrade": "SPDY/3.1"}
    ) as r:
        assert r.status == 400
        assert "WebSocket" in (await r.json())["message"]


async def test_a_cluster_with_an_untrusted_certificate_is_502_naming_it(
    aiohttp_client, tmp_path: pathlib.Path, sim: cluster.KubeSim
) -> None:
    app = app_mod.create_app(upstream.gateway_settings(tmp_path / "data"))
    client = await aiohttp_client(app)
    other_ca = upstream.Recorder().ca_pem  # a CA that did not sign the simulator's certificate
    await upstream.register(app, CID, server=sim.url, ca_pem=other_ca, token=sim.token)
    async with client.get(PODS, headers=bearer(ADMIN_TOKEN)) as r:
        body = await r.json()
        assert r.status == 502
        assert body["kind"] == "Status"
        assert CID in body["message"]
        assert "certificate" in body["message"]
