"""Helpers of the proxy tests: registering a cluster straight into the registry, and a recording
HTTPS apiserver stand-in that shows what the gateway sends upstream."""

from __future__ import annotations

import asyncio
import pathlib
import ssl
from typing import Any

import attrs
from aiohttp import web

from bcs import config, keys
from bcs.core import registry
from bcs.sim.kube import tls as sim_tls
from bcs.testing import embedded_settings

__all__ = ["Recorder", "gateway_settings", "register"]


def gateway_settings(data_dir: pathlib.Path, **sections: dict[str, Any]) -> config.BcsSettings:
    """Embedded settings serving plain HTTP (the test client's), without the k8s data watch: these
    tests are about the proxy, and a data watch would add its own requests to every cluster."""
    sections["server"] = {"tls": "off", **sections.get("server", {})}
    sections["plugins"] = {"k8s": {"watch": False}, **sections.get("plugins", {})}
    return embedded_settings(data_dir, **sections)


async def register(
    app: web.Application,
    cluster_id: str,
    *,
    server: str,
    ca_pem: str,
    token: str,
    labels: dict[str, str] | None = None,
) -> None:
    """Add (or update) a Kubernetes cluster and its direct credential in the app's registry."""
    clusters = app[keys.CLUSTERS]
    try:
        await clusters.add_cluster(registry.Cluster(clusterID=cluster_id, labels=labels or {}))
    except Exception:  # already there: update the labels only
        await clusters.update_cluster(cluster_id, {"labels": labels or {}})
    await clusters.put_credential(
        registry.Credential(
            serverKey=cluster_id,
            clusterID=cluster_id,
            serverAddress=server,
            caCertData=ca_pem,
            userToken=token,
        )
    )


@attrs.define
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


class Recorder:
    """An HTTPS server that records every request and answers 200 with JSON (``/slow`` streams)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.streams: list[Any] = []  # the transports of /stream requests, to see them closed
        self.certs = sim_tls.make_certs(("127.0.0.1", "localhost"))
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def ca_pem(self) -> str:
        return self.certs.ca_pem.decode()

    async def _any(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            Seen(request.method, request.path_qs, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        if request.path == "/stream":
            self.streams.append(request.transport)
            response = web.StreamResponse(headers={"Content-Type": "text/plain", "Connection": "keep-alive"})
            await response.prepare(request)
            await response.write(b"first\n")
            await self.release.wait()
            await response.write(b"second\n")
            await response.write_eof()
            return response
        return web.json_response(
            {"path": request.path, "size": len(body)}, headers={"Keep-Alive": "timeout=5"}
        )

    async def start(self) -> Recorder:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.certs.server_context())
        await site.start()
        self.url = f"https://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Recorder:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def last(self, path: str) -> Seen:
        return next(s for s in reversed(self.seen) if s.path_qs.split("?")[0] == path)


def trusting(ca_pem: str) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca_pem)
