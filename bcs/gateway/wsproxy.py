"""WebSocket relay for exec, attach and port-forward (``v5.channel.k8s.io``, ``v4.channel.k8s.io``).

The upstream handshake happens first, offering the caller's subprotocols, so the client is answered
with exactly the subprotocol the apiserver picked (kubectl falls back to SPDY, which the gateway
cannot relay, when none is selected). Frames are then copied one by one in both directions, in
order; pings are answered on each leg by aiohttp, and a close on either side closes the other with
the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import aiohttp
import yarl
from aiohttp import web

from bcs import errors
from bcs.gateway import auth

if TYPE_CHECKING:
    from multidict import CIMultiDict

    from bcs.gateway.upstreams import Upstream

__all__ = ["UpstreamRefused", "relay"]

logger = logging.getLogger(__name__)

_HANDSHAKE = (
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Accept",
)
CLOSE_TIMEOUT = 10.0


class UpstreamRefused(errors.BcsError):
    """The apiserver answered the upgrade with an error status; passed on with that status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def _protocols(request: web.Request) -> tuple[str, ...]:
    """The subprotocols the client offered, minus the one that carries its bcs token."""
    offered = request.headers.getall("Sec-WebSocket-Protocol", ())
    names = (p.strip() for v in offered for p in v.split(","))
    return tuple(p for p in names if p and not p.startswith(auth.WS_BEARER_PREFIX))


async def _connect(
    upstream: Upstream, *, rest: str, headers: CIMultiDict[str], protocols: tuple[str, ...]
) -> aiohttp.ClientWebSocketResponse:
    why = "no address"
    for name in _HANDSHAKE:
        headers.popall(name, None)
    for address in upstream.candidates():
        url = yarl.URL(address.base + rest, encoded=True)
        try:
            ws = await upstream.session.ws_connect(
                url,
                protocols=protocols,
                headers=headers,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT),
                autoping=True,
                max_msg_size=0,
            )
        except aiohttp.WSServerHandshakeError as e:
            address.succeeded()
            raise UpstreamRefused(
                f"cluster {upstream.cluster_id}: the apiserver refused the upgrade: {e.status} {e.message}",
                status=e.status if e.status >= 400 else 502,
            ) from None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            address.failed(time.monotonic())
            why = f"{address.url}: {type(e).__name__}"
        except aiohttp.ClientError as e:
            raise errors.BackendUnavailable(
                f"cluster {upstream.cluster_id}: the upgrade failed: {type(e).__name__}"
            ) from None
        else:
            address.succeeded()
            return ws
    raise errors.BackendUnavailable(f"cluster {upstream.cluster_id}: no apiserver answered ({why})")


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse, sink: object) -> None:
    send_bytes = sink.send_bytes  # type: ignore[attr-defined]
    send_str = sink.send_str  # type: ignore[attr-defined]
    async for message in source:
        if message.type == aiohttp.WSMsgType.BINARY:
            await send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.TEXT:
            await send_str(message.data)
        elif message.type == aiohttp.WSMsgType.ERROR:
            break


async def relay(
    request: web.Request, upstream: Upstream, *, rest: str, headers: CIMultiDict[str]
) -> web.StreamResponse:
    """Open the upstream WebSocket, accept the client's, and copy frames until either side closes."""
    remote = await _connect(upstream, rest=rest, headers=headers, protocols=_protocols(request))
    try:
        chosen = (remote.protocol,) if remote.protocol else ()
        local = web.WebSocketResponse(protocols=chosen, autoping=True, max_msg_size=0)
        await local.prepare(request)
        up = asyncio.create_task(_pump(local, remote), name=f"ws-up:{upstream.cluster_id}")
        down = asyncio.create_task(_pump(remote, local), name=f"ws-down:{upstream.cluster_id}")
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Whichever side closed first decides the code the other side gets.
            if down.done() or remote.closed:
                code = remote.close_code or aiohttp.WSCloseCode.OK
                await local.close(code=code)
            else:
                code = local.close_code or aiohttp.WSCloseCode.OK
                await remote.close(code=code)
                await local.close(code=code)
            for task in (up, down):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, ConnectionError):
                    await task
        return local
    finally:
        await remote.close()
