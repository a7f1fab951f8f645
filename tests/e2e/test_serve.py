"""``bcs serve`` as a real process: embedded defaults, and the production file on real services."""

from __future__ import annotations

import asyncio
import os
import pathlib
import stat
from typing import Any

import aiohttp

from tests import services
from tests.e2e import conftest


async def _get(url: str, ssl: Any = True) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(url, ssl=ssl) as resp:
        return resp.status, await resp.json()


async def test_embedded_defaults_serve_health_and_readiness(tmp_path: pathlib.Path) -> None:
    served = await asyncio.to_thread(
        conftest.serve, "--config", "config/bcs.toml", env={"BCS_SERVER__DATA_DIR": str(tmp_path / "data")}
    )
    try:
        assert await _get(f"{served.url}/healthz", served.ssl_context()) == (200, {"status": "ok"})
        status, body = await _get(f"{served.url}/readyz", served.ssl_context())
        assert (status, body["ports"]) == (200, {"kv": "ok", "store": "ok", "bus": "ok"})
        token_file = tmp_path / "data" / "admin-token"
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        token = token_file.read_text().strip()
        assert token not in "".join(served.output)  # only the path is printed
        assert str(token_file) in "".join(served.output)
    finally:
        rc = await asyncio.to_thread(served.stop)
    assert rc == 0, "".join(served.output)


async def test_production_config_is_ready_on_real_services_and_reports_kv_down(
    tmp_path: pathlib.Path, mongo_url: str, amqp_url: str
) -> None:
    etcd = await asyncio.to_thread(services.start_etcd, tmp_path)
    served = None
    try:
        env = {
            "BCS_SERVER__DATA_DIR": str(tmp_path / "data"),
            "BCS_SERVER__HOST": "127.0.0.1",
            "BCS_KV__ENDPOINTS": f'["{etcd.url}"]',
            "BCS_MONGO_URL": mongo_url,
            "BCS_AMQP_URL": amqp_url,
            "BCS_STORE__DATABASE": f"bcs_e2e_{os.getpid()}",
            "BCS_ADMIN_TOKEN": "e2e-admin-token",
        }
        served = await asyncio.to_thread(conftest.serve, "--config", "config/bcs.production.toml", env=env)

        async def ready() -> bool:
            status, body = await _get(f"{served.url}/readyz", served.ssl_context())
            return status == 200 and body["ports"] == {"kv": "ok", "store": "ok", "bus": "ok"}

        await services.eventually(ready, timeout=30, what="/readyz 200 on etcd, SecantusDB and RabbitMQ")

        await asyncio.to_thread(etcd.stop)

        async def kv_down() -> dict | None:
            status, body = await _get(f"{served.url}/readyz", served.ssl_context())
            return body if status == 503 else None

        body = await services.eventually(kv_down, timeout=5, what="/readyz 503 after etcd stopped")
        assert body["ports"] == {"kv": "down", "store": "ok", "bus": "ok"}
        assert body["message"].startswith("kv")
        assert (await _get(f"{served.url}/healthz", served.ssl_context()))[0] == 200

        await asyncio.to_thread(etcd.start)
        await services.eventually(ready, timeout=30, what="/readyz 200 again after etcd came back")
    finally:
        if served is not None:
            rc = await asyncio.to_thread(served.stop)
            assert rc == 0, "".join(served.output)
        await asyncio.to_thread(etcd.remove)
