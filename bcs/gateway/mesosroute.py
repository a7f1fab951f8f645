"""``/bcsapi/v4/scheduler/mesos/{path}``: the Mesos driver API, routed by the ``BCS-ClusterID`` header.

As upstream's gateway does, a request goes to a Mesos driver that registered itself for that cluster
in the KV port (:mod:`bcs.core.discovery`, rewritten to ``/mesosdriver/v4/{path}``); failing that, to
the backend that owns the cluster (``bcs_backend_for_cluster``), through
:meth:`bcs.core.backend.Backend.handle_request`. A driver registered by this very process is answered
that way too (no loopback hop). A missing or unknown header is a 400 in the envelope.

``/mesosdriver/v4/{path}`` is the driver end of that hop: what another gateway forwards to a Mesos
driver this process registered. It goes to the owning backend, never to another driver, and answers a
header naming no Mesos cluster with upstream's driver error (code 1, "ClusterId ... is invalid").
"""

from __future__ import annotations

import logging
import os
import socket

import aiohttp
import yarl
from aiohttp import web

from bcs import envelope, errors, keys
from bcs.core import discovery
from bcs.gateway import auth, relay

__all__ = ["CLUSTER_HEADER", "DRIVER_PREFIX", "DriverClient", "handle_driver", "handle_mesos"]

logger = logging.getLogger(__name__)

CLUSTER_HEADER = "BCS-ClusterID"
DRIVER_PREFIX = "/mesosdriver/v4/"
_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


class DriverClient:
    """One client pool for every registered Mesos driver, made on first use."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def handle_mesos(request: web.Request) -> web.StreamResponse:
    cluster_id = request.headers.get(CLUSTER_HEADER, "").strip()
    if not cluster_id:
        raise errors.BadRequest(f"header {CLUSTER_HEADER} is required on /bcsapi/v4/scheduler/mesos/")
    try:
        cluster = await request.app[keys.CLUSTERS].get_cluster(cluster_id)
    except errors.ClusterNotFound:
        raise errors.BadRequest(f"unknown cluster {cluster_id} in header {CLUSTER_HEADER}") from None
    await auth.authorize(request, cluster_id=cluster_id, verb=_VERBS.get(request.method, "create"))
    drivers = [d for d in request.app[keys.MESOS_DRIVERS].endpoints(cluster_id) if not _ours(d)]
    if drivers:
        return await _to_driver(request, cluster_id, [d.url for d in drivers])
    name = request.app[keys.PLUGINS].backend_for_cluster(cluster)
    backend = request.app[keys.BACKENDS].get(name or "")
    if backend is None:
        raise errors.NotFound(f"no backend serves cluster {cluster_id} ({cluster.engineType})")
    return await backend.handle_request(cluster, request)


async def handle_driver(request: web.Request) -> web.StreamResponse:
    cluster_id = request.headers.get(CLUSTER_HEADER, "").strip()
    try:
        cluster = await request.app[keys.CLUSTERS].get_cluster(cluster_id) if cluster_id else None
    except errors.ClusterNotFound:
        cluster = None
    if cluster is None or cluster.engineType != "mesos":
        body = envelope.error_body(1, f"ClusterId {cluster_id} is invalid")
        return envelope.json_response(body, status=400)
    backend = request.app[keys.BACKENDS].get(request.app[keys.PLUGINS].backend_for_cluster(cluster) or "")
    if backend is None:
        raise errors.NotFound(f"no backend serves cluster {cluster_id} ({cluster.engineType})")
    return await backend.handle_request(cluster, request)


def _ours(driver: discovery.ServerInfo) -> bool:
    return driver.pid == os.getpid() and driver.hostname == socket.gethostname()


async def _to_driver(request: web.Request, cluster_id: str, urls: list[str]) -> web.StreamResponse:
    """Forward to the first registered driver that takes the connection (the caller's headers stay)."""
    rest = request.raw_path.split("/bcsapi/v4/scheduler/mesos/", 1)[1]
    # The caller was authorized here; the hop carries this gateway's own admin token, which the
    # processes sharing one KV (and so one cluster set) share.
    token = request.app[keys.SETTINGS].auth.admin_token
    headers = relay.request_headers(request.headers, token=token, user=None, peer=request.remote)
    headers[CLUSTER_HEADER] = cluster_id
    body = await request.read() if request.body_exists else None
    why = "no driver"
    for base in urls:
        url = yarl.URL(base.rstrip("/") + DRIVER_PREFIX + rest, encoded=True)
        try:
            response = await request.app[keys.MESOS_DRIVER_CLIENT].session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            why = f"{base}: {type(e).__name__}"
            continue
        except aiohttp.ClientError as e:
            raise errors.BackendUnavailable(
                f"cluster {cluster_id}: the Mesos driver failed: {type(e).__name__}"
            ) from None
        return await relay.relay_response(request, response, streaming=False, what=cluster_id)
    raise errors.BackendUnavailable(f"cluster {cluster_id}: no Mesos driver answered ({why})")
