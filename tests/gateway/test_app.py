"""The application shell: health, readiness, metrics, version, the error map and request ids."""

from __future__ import annotations

import os
import pathlib
import stat

import pytest
from aiohttp import web

import bcs
from bcs import app as app_mod
from bcs import config, errors, keys
from bcs.testing import ADMIN_TOKEN, embedded_settings


@pytest.fixture
async def client(aiohttp_client, settings):
    app = app_mod.create_app(settings)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("kaboom with a secret")

    async def bad(request: web.Request) -> web.Response:
        raise errors.BadRequest("parameter limit must be an integer")

    app.router.add_get("/bcsapi/v4/test/boom", boom)
    app.router.add_get("/bcsapi/v4/test/bad", bad)
    return await aiohttp_client(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


async def test_healthz_and_readyz_on_embedded_ports(client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ok"
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ready", "ports": {"kv": "ok", "store": "ok", "bus": "ok"}}


async def test_version_in_envelope(client) -> None:
    resp = await client.get("/bcsapi/v4/version")
    body = await resp.json()
    assert resp.status == 200
    assert body["result"] is True
    assert body["code"] == 0
    assert body["data"]["version"] == bcs.__version__
    assert sorted(body["data"]["backends"]) == ["federation", "k8s", "mesos"]
    assert body["data"]["ports"] == {"kv": "sqlite", "store": "sqlite", "bus": "memory"}


async def test_unknown_route_is_404_in_envelope(client) -> None:
    resp = await client.get("/bcsapi/v4/nowhere")
    body = await resp.json()
    assert resp.status == 404
    assert body == {
        "result": False,
        "code": 1405404,
        "message": "no route for GET /bcsapi/v4/nowhere",
        "data": None,
    }


async def test_wrong_method_is_405_with_allow(client) -> None:
    resp = await client.delete("/healthz")
    assert resp.status == 405
    assert "GET" in resp.headers["Allow"]
    assert (await resp.json())["result"] is False


async def test_bcs_error_maps_to_its_status_and_code(client) -> None:
    resp = await client.get("/bcsapi/v4/test/bad")
    assert resp.status == 400
    body = await resp.json()
    assert body["code"] == 1405080
    assert body["message"] == "parameter limit must be an integer"


async def test_unhandled_error_is_500_without_details(client, caplog) -> None:
    resp = await client.get("/bcsapi/v4/test/boom", headers={"X-Request-Id": "req-42"})
    assert resp.status == 500
    body = await resp.json()
    assert body["message"] == "internal error (request req-42)"
    assert "secret" not in body["message"]
    assert "kaboom" in caplog.text  # logged for the operator


async def test_request_id_is_echoed_or_generated(client) -> None:
    resp = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    resp = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith junk"})
    generated = resp.headers["X-Request-Id"]
    assert generated != "bad id\twith junk"
    assert len(generated) == 16
    resp = await client.get("/bcsapi/v4/nowhere")
    assert resp.headers["X-Request-Id"]


async def test_metrics_count_requests_by_route_template(client) -> None:
    await client.get("/bcsapi/v4/version")
    await client.get("/bcsapi/v4/nowhere")
    resp = await client.get("/metrics")
    assert resp.status == 200
    text = await resp.text()
    assert 'bcs_http_requests_total{method="GET",route="/bcsapi/v4/version",status="200"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "bcs_http_request_duration_seconds_bucket" in text


async def test_admin_token_is_generated_once_with_mode_0600(tmp_path: pathlib.Path) -> None:
    s = config.BcsSettings.from_mapping({"server": {"data_dir": str(tmp_path / "d")}}, environ={})
    app = app_mod.create_app(s)
    app.freeze()
    await app.startup()
    token = app[keys.ADMIN_TOKEN]
    await app.cleanup()
    path = tmp_path / "d" / "admin-token"
    assert path.read_text().strip() == token
    assert len(token) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    app = app_mod.create_app(s)
    app.freeze()
    await app.startup()
    assert app[keys.ADMIN_TOKEN] == token  # reused, not regenerated
    await app.cleanup()


async def test_configured_admin_token_writes_no_file(tmp_path: pathlib.Path) -> None:
    app = app_mod.create_app(embedded_settings(tmp_path))
    app.freeze()
    await app.startup()
    assert app[keys.ADMIN_TOKEN] == "test-admin-token"
    await app.cleanup()
    assert not (tmp_path / "admin-token").exists()


async def test_readyz_names_the_port_that_is_down(aiohttp_client, tmp_path: pathlib.Path) -> None:
    # A real etcd adapter pointed at a port where nothing listens.
    s = embedded_settings(
        tmp_path, kv={"backend": "etcd", "endpoints": ["http://127.0.0.1:9"], "timeout": 1.0}
    )
    client = await aiohttp_client(app_mod.create_app(s))
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503
    assert body["ports"] == {"kv": "down", "store": "ok", "bus": "ok"}
    assert body["message"].startswith("kv")
    assert (await client.get("/healthz")).status == 200  # alive, just not ready
