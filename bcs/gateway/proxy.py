"""The streaming reverse proxy to cluster apiservers: ``/clusters/{clusterId}/{path}``.

Also the legacy ``/tunnels/clusters/{clusterId}/{path}``. A request is authorized for the Kubernetes
verb it amounts to (:mod:`bcs.gateway.kubeverbs`), then sent to the cluster's apiserver with the
caller's bcs token swapped for the cluster credential's token (plus ``Impersonate-User`` when the
cluster is labelled for it, see :data:`bcs.gateway.upstreams.IMPERSONATE_LABEL`). Bodies stream both
ways without buffering (watches, ``logs -f``); WebSocket upgrades (exec, attach, port-forward) are
relayed frame by frame (:mod:`bcs.gateway.wsproxy`). Errors raise :mod:`bcs.errors` types, which the
error middleware renders as Kubernetes ``Status`` objects on these paths.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import yarl
from aiohttp import web
from multidict import CIMultiDict

from bcs import errors, keys
from bcs.core import discovery, tasks
from bcs.gateway import auth, kubeverbs, mesosroute, relay, upstreams, wsproxy

__all__ = ["forward", "gateway_ctx", "handle_cluster", "setup"]

logger = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    """Add the proxy routes, its app keys and its cleanup context (call from ``create_app``)."""
    settings = app[keys.SETTINGS]
    app[keys.UPSTREAMS] = upstreams.Upstreams(app[keys.CLUSTERS], settings=settings.gateway)
    app[keys.MESOS_DRIVERS] = discovery.ServiceView(
        app[keys.KV], prefix=settings.kv.prefix, module=discovery.MESOS_DRIVER
    )
    for prefix in ("/clusters", "/tunnels/clusters"):
        app.router.add_route("*", prefix + "/{cluster_id}/{path:.*}", handle_cluster)
    app.router.add_route("*", "/bcsapi/v4/scheduler/mesos/{path:.*}", mesosroute.handle_mesos)
    app.router.add_route("*", mesosroute.DRIVER_PREFIX + "{path:.*}", mesosroute.handle_driver)
    app[keys.MESOS_DRIVER_CLIENT] = mesosroute.DriverClient()
    app.cleanup_ctx.append(gateway_ctx)


async def gateway_ctx(app: web.Application) -> AsyncIterator[None]:
    """Follow the registry and the driver endpoints; probe apiservers; close every pool at the end."""
    pool = app[keys.UPSTREAMS]
    running = [
        tasks.create_guarded_task(name="gateway.registry_watch", coro=pool.follow()),
        tasks.create_guarded_task(name="gateway.apiserver_probe", coro=pool.probe_forever()),
        tasks.create_guarded_task(name="gateway.mesos_drivers", coro=app[keys.MESOS_DRIVERS].follow()),
    ]
    yield
    await tasks.stop_tasks(running, timeout=app[keys.SETTINGS].server.shutdown_timeout)
    await pool.close()
    await app[keys.MESOS_DRIVER_CLIENT].close()


# -- the handler ----------------------------------------------------------------------------------


def _upstream_path(request: web.Request, cluster_id: str) -> str:
    """The still-encoded path and query after ``/clusters/<id>`` ("/" when nothing follows)."""
    raw = request.raw_path
    marker = f"/clusters/{cluster_id}"
    rest = raw[raw.find(marker) + len(marker) :]
    if not rest.startswith("/"):
        rest = "/" + rest
    return rest


async def handle_cluster(request: web.Request) -> web.StreamResponse:
    cluster_id = request.match_info["cluster_id"]
    path = "/" + request.match_info["path"]
    verb = kubeverbs.kube_verb(request.method, path, request.query)
    await auth.authorize(request, cluster_id=cluster_id, verb=verb)
    upstream = await request.app[keys.UPSTREAMS].get(cluster_id)
    upstream.check_available()
    user = auth.principal(request).user if upstream.impersonate else None
    headers = relay.request_headers(request.headers, token=upstream.token, user=user, peer=request.remote)
    rest = _upstream_path(request, cluster_id)
    upgrade = request.headers.get("Upgrade", "")
    upstream.in_flight += 1
    try:
        if upgrade.lower() == "websocket":
            return await wsproxy.relay(request, upstream, rest=rest, headers=headers)
        if upgrade:
            raise errors.BadRequest(
                f"the bcs gateway relays exec, attach and port-forward over WebSocket only "
                f"(kubectl 1.30 or newer), not {upgrade}"
            )
        timeouts = request.app[keys.SETTINGS].gateway
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.connect_timeout,
            sock_connect=timeouts.connect_timeout,
            sock_read=None if kubeverbs.streams(verb, request.query) else timeouts.read_timeout,
        )
        return await forward(
            request,
            upstream,
            rest=rest,
            headers=headers,
            timeout=timeout,
            streaming=timeout.sock_read is None,
        )
    finally:
        upstream.in_flight -= 1


async def _body(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    length = request.content_length
    if length is not None and length <= relay.BUFFER_LIMIT:
        return await request.read()
    return request.content  # streamed as it arrives (aiohttp sends it chunked or with its length)


async def forward(
    request: web.Request,
    upstream: upstreams.Upstream,
    *,
    rest: str,
    headers: CIMultiDict[str],
    timeout: aiohttp.ClientTimeout,
    streaming: bool,
) -> web.StreamResponse:
    """Send the request to the first apiserver address that takes the connection; relay the answer.

    Failing over is safe even with a streamed body: nothing is read from it before a connection
    exists, and only connection failures move on to the next address.
    """
    body = await _body(request)
    timed_out = False
    why = "no address"
    for address in upstream.candidates():
        url = yarl.URL(address.base + rest, encoded=True)
        try:
            response = await upstream.session.request(
                request.method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
            )
        except aiohttp.ClientConnectorCertificateError as e:
            address.failed(time.monotonic())
            why = f"{address.url}: certificate not trusted ({e.certificate_error})"
        except aiohttp.ClientConnectorError as e:
            address.failed(time.monotonic())
            why = f"{address.url}: {e.os_error.strerror or e.os_error}"
        except aiohttp.ConnectionTimeoutError:
            address.failed(time.monotonic())
            timed_out, why = True, f"{address.url}: connect timed out"
        except aiohttp.ServerTimeoutError:
            raise errors.GatewayTimeout(
                f"cluster {upstream.cluster_id}: the apiserver did not answer within {timeout.sock_read:g}s"
            ) from None
        except aiohttp.ClientError as e:
            raise errors.BackendUnavailable(
                f"cluster {upstream.cluster_id}: the apiserver connection failed: {type(e).__name__}"
            ) from None
        else:
            address.succeeded()
            return await relay.relay_response(
                request, response, streaming=streaming, what=upstream.cluster_id
            )
    cls = errors.GatewayTimeout if timed_out else errors.BackendUnavailable
    raise cls(f"cluster {upstream.cluster_id}: no apiserver answered ({why})")
