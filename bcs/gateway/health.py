"""Liveness, readiness and version: ``/healthz``, ``/readyz``, ``GET /bcsapi/v4/version``."""

from __future__ import annotations

import asyncio
import platform

from aiohttp import web

import bcs
from bcs import envelope, errors, keys
from bcs.core import ports

__all__ = ["PING_TIMEOUT", "check_ports", "routes"]

PING_TIMEOUT = 2.0  # seconds per port; /readyz answers within about this long
routes = web.RouteTableDef()


async def _ping(name: str, port: ports.Port) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(port.ping(), PING_TIMEOUT)
    except TimeoutError:
        return name, f"{name}: no answer within {PING_TIMEOUT:g}s"
    except errors.BcsError as e:
        return name, e.message
    except Exception as e:  # an adapter bug must not make readiness lie
        return name, f"{name}: {type(e).__name__}: {e}"
    return name, None


async def check_ports(by_name: dict[str, ports.Port]) -> dict[str, str | None]:
    """Ping every port concurrently: name -> None when up, else why it is down."""
    results = await asyncio.gather(*(_ping(name, port) for name, port in by_name.items()))
    return dict(results)


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return envelope.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    results = await check_ports(request.app[keys.PORTS])
    down = {name: why for name, why in results.items() if why is not None}
    body = {
        "status": "unready" if down else "ready",
        "ports": {name: ("down" if why else "ok") for name, why in results.items()},
    }
    if down:
        body["message"] = "; ".join(down.values())
    return envelope.json_response(body, status=503 if down else 200)


@routes.get("/bcsapi/v4/version")
async def version(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    return envelope.ok(
        {
            "version": bcs.__version__,
            "python": platform.python_version(),
            "plugins": request.app[keys.PLUGINS].names(),
            "backends": request.app[keys.BACKEND_REGISTRY].names(),
            "ports": {
                "kv": settings.kv.backend,
                "store": settings.store.backend,
                "bus": settings.bus.backend,
            },
        }
    )
