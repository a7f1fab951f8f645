"""What the proxy sends upstream (headers, impersonation, bodies), failover across apiserver
addresses, the health probe's 503, and following credential changes; against a recording apiserver."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import test_utils, web

from bcs import app as app_mod
from bcs import keys
from bcs.gateway import upstreams
from bcs.testing import ADMIN_TOKEN
from tests import services
from tests.gateway import upstream
from tests.gateway.accounts import bearer, grant, make_user

CID = "BCS-K8S-40002"
BASE = f"/clusters/{CID}"


@pytest.fixture
async def recorder() -> AsyncIterator[upstream.Recorder]:
    async with upstream.Recorder() as rec:
        yield rec


@pytest.fixture
async def app(tmp_path: pathlib.Path) -> web.Application:
    gateway = {"probe_interval": 0.05, "probe_timeout": 0.5, "unavailable_after": 0.3}
    return app_mod.create_app(upstream.gateway_settings(tmp_path / "data", gateway=gateway))


@pytest.fixture
async def client(aiohttp_client, app: web.Application, recorder: upstream.Recorder) -> test_utils.TestClient:
    client = await aiohttp_client(app)
    await upstream.register(app, CID, server=recorder.url, ca_pem=recorder.ca_pem, token="cluster-sa-token")
    return client


async def test_the_caller_token_hop_by_hop_and_impersonation_headers_never_reach_the_cluster(
    client: test_utils.TestClient, recorder: upstream.Recorder
) -> None:
    headers = {
        **bearer(ADMIN_TOKEN),
        "Connection": "keep-alive, X-Private",
        "X-Private": "hop",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Impersonate-User": "system:admin",
        "Impersonate-Group": "system:masters",
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io",
        "Kubectl-Command": "kubectl get",
    }
    async with client.get(f"{BASE}/api/v1/pods?limit=500&labelSelector=a%3Db", headers=headers) as r:
        assert r.status == 200
        assert "keep-alive" not in {k.lower() for k in r.headers}  # the upstream's hop-by-hop stays there
    seen = recorder.last("/api/v1/pods")
    assert seen.path_qs == "/api/v1/pods?limit=500&labelSelector=a%3Db"
    assert seen.headers["authorization"] == "Bearer cluster-sa-token"
    assert seen.headers["accept"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    assert seen.headers["kubectl-command"] == "kubectl get"
    assert "x-private" not in seen.headers
    assert "te" not in seen.headers
    assert not [h for h in seen.headers if h.startswith("impersonate-")]
    assert seen.headers["x-forwarded-for"] == "127.0.0.1"


async def test_a_cluster_labelled_for_it_gets_impersonate_user(
    client: test_utils.TestClient, app: web.Application, recorder: upstream.Recorder
) -> None:
    await upstream.register(
        app,
        CID,
        server=recorder.url,
        ca_pem=recorder.ca_pem,
        token="cluster-sa-token",
        labels={upstreams.IMPERSONATE_LABEL: "true"},
    )
    token = await make_user(client, "ivy")
    await grant(client, "ivy", CID, "viewer")

    async def impersonated() -> bool:
        async with client.get(
            f"{BASE}/api/v1/nodes", headers={**bearer(token), "Impersonate-User": "root"}
        ) as r:
            assert r.status == 200
        return recorder.last("/api/v1/nodes").headers.get("impersonate-user") == "ivy"

    await services.eventually(impersonated, what="the label taking effect")


async def test_large_bodies_stream_both_ways(
    client: test_utils.TestClient, recorder: upstream.Recorder
) -> None:
    payload = b"x" * (5 << 20)  # above the size read whole: streamed through

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 1 << 16):
            yield payload[i : i + (1 << 16)]

    async with client.post(
        f"{BASE}/api/v1/namespaces/default/configmaps", data=chunks(), headers=bearer(ADMIN_TOKEN)
    ) as r:
        assert r.status == 200
        assert (await r.json())["size"] == len(payload)
    assert recorder.last("/api/v1/namespaces/default/configmaps").body == payload


async def test_a_stream_is_relayed_as_it_comes(
    client: test_utils.TestClient, recorder: upstream.Recorder
) -> None:
    async with client.get(f"{BASE}/stream?follow=true", headers=bearer(ADMIN_TOKEN)) as r:
        assert await asyncio.wait_for(r.content.readline(), 5) == b"first\n"  # before the upstream ends
        recorder.release.set()
        assert await asyncio.wait_for(r.content.read(), 5) == b"second\n"


async def test_an_abandoned_stream_is_closed_upstream(
    app: web.Application, recorder: upstream.Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    # Served as `bcs serve` serves (no handler cancellation on disconnect, unlike the test server), so
    # only the proxy's own check notices that an idle stream's client went away.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}{BASE}/stream?watch=true"
        await upstream.register(app, CID, server=recorder.url, ca_pem=recorder.ca_pem, token="t")
        async with aiohttp.ClientSession() as session, session.get(url, headers=bearer(ADMIN_TOKEN)) as r:
            assert await asyncio.wait_for(r.content.readline(), 5) == b"first\n"
            r.close()  # the client goes away while the upstream still has nothing to send
        (transport,) = recorder.streams
        await services.eventually(lambda: transport.is_closing(), what="the upstream stream closed")
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
    finally:
        await runner.cleanup()


async def test_failover_skips_an_address_that_refuses(
    client: test_utils.TestClient, app: web.Application, recorder: upstream.Recorder
) -> None:
    dead = f"https://127.0.0.1:{services.free_port()}"
    await upstream.register(app, CID, server=f"{dead},{recorder.url}", ca_pem=recorder.ca_pem, token="t")
    # The cached upstream (made by the fixture's registration) learns of the change through a watch.
    written = await app[keys.CLUSTERS].revision()
    await services.eventually(lambda: app[keys.UPSTREAMS].revision >= written, what="the watch applying it")
    for _ in range(3):
        async with client.get(f"{BASE}/version", headers=bearer(ADMIN_TOKEN)) as r:
            assert r.status == 200
    pool = await app[keys.UPSTREAMS].get(CID)
    assert [str(a.url) for a in pool.candidates()] == [recorder.url, dead]  # the dead one is tried last


async def test_a_stopped_apiserver_is_502_then_503_at_once(
    client: test_utils.TestClient, app: web.Application, recorder: upstream.Recorder
) -> None:
    async with client.get(f"{BASE}/version", headers=bearer(ADMIN_TOKEN)) as r:
        assert r.status == 200
    await recorder.stop()
    async with client.get(f"{BASE}/version", headers=bearer(ADMIN_TOKEN)) as r:
        body = await r.json()
        assert r.status in (502, 503)
        assert CID in body["message"]

    async def unavailable() -> dict | None:
        async with client.get(f"{BASE}/version", headers=bearer(ADMIN_TOKEN)) as r:
            return await r.json() if r.status == 503 else None

    body = await services.eventually(unavailable, what="503 once the probe marks the cluster down")
    assert (body["kind"], body["reason"]) == ("Status", "ServiceUnavailable")
    assert "unavailable" in body["message"]


async def test_the_cluster_comes_back_when_its_apiserver_answers_again(
    client: test_utils.TestClient, app: web.Application
) -> None:
    rec = await upstream.Recorder().start()
    try:
        await upstream.register(app, "BCS-K8S-40009", server=rec.url, ca_pem=rec.ca_pem, token="t")
        pool = await app[keys.UPSTREAMS].get("BCS-K8S-40009")
        for address in pool.addresses:
            address.failed(0.0)  # as if it had failed long ago
        with pytest.raises(Exception, match="unavailable"):
            pool.check_available()
        await services.eventually(
            lambda: all(a.failing_since is None for a in pool.addresses), what="a good probe"
        )
        async with client.get("/clusters/BCS-K8S-40009/version", headers=bearer(ADMIN_TOKEN)) as r:
            assert r.status == 200
    finally:
        await rec.stop()


async def test_an_unchanged_report_keeps_the_pool_and_a_new_token_replaces_it(
    client: test_utils.TestClient, app: web.Application, recorder: upstream.Recorder
) -> None:
    pools = app[keys.UPSTREAMS]
    first = await pools.get(CID)
    await upstream.register(app, CID, server=recorder.url, ca_pem=recorder.ca_pem, token="cluster-sa-token")
    written = await app[keys.CLUSTERS].revision()
    await services.eventually(lambda: pools.revision >= written, what="the watch applying the report")
    assert await pools.get(CID) is first
    await upstream.register(app, CID, server=recorder.url, ca_pem=recorder.ca_pem, token="rotated")

    async def rotated() -> bool:
        async with client.get(f"{BASE}/version", headers=bearer(ADMIN_TOKEN)) as r:
            assert r.status == 200
        return recorder.last("/version").headers["authorization"] == "Bearer rotated"

    await services.eventually(rotated, what="the new token in use")
    assert first.retired


async def test_a_cluster_registered_after_start_is_routable_on_its_first_request(
    client: test_utils.TestClient, app: web.Application, recorder: upstream.Recorder
) -> None:
    await upstream.register(app, "BCS-K8S-40003", server=recorder.url, ca_pem=recorder.ca_pem, token="t")
    async with client.get("/clusters/BCS-K8S-40003/version", headers=bearer(ADMIN_TOKEN)) as r:
        assert r.status == 200
    await app[keys.CLUSTERS].delete_cluster("BCS-K8S-40003")

    async def gone() -> bool:
        async with client.get("/clusters/BCS-K8S-40003/version", headers=bearer(ADMIN_TOKEN)) as r:
            return r.status == 404

    await services.eventually(gone, what="the deleted cluster answering 404")
