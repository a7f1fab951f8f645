"""Relaying an upstream HTTP answer to the client, and the header rules of every proxied request.

Hop-by-hop headers (RFC 9110 §7.6.1, plus any named in ``Connection``) never cross; neither do the
caller's credentials or impersonation headers. Small bounded bodies are read whole; everything else
(watches, ``logs -f``, large lists) is copied chunk by chunk as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from bcs import errors

__all__ = ["BUFFER_LIMIT", "HOP_BY_HOP", "relay_response", "request_headers", "response_headers"]

logger = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_DROP_REQUEST = HOP_BY_HOP | {"host", "authorization"}
_DROP_RESPONSE = HOP_BY_HOP | {"content-length"}
BUFFER_LIMIT = 1 << 20  # bodies of known size up to this are read whole (fewer writes, replayable)
DISCONNECT_POLL = 1.0  # seconds between checks that a streaming client is still there


# -- headers --------------------------------------------------------------------------------------


def _listed_in_connection(headers: CIMultiDictProxy[str]) -> set[str]:
    return {h.strip().lower() for v in headers.getall("Connection", ()) for h in v.split(",")}


def request_headers(
    incoming: CIMultiDictProxy[str], *, token: str, user: str | None, peer: str | None = None
) -> CIMultiDict[str]:
    """What the apiserver gets: the caller's headers minus hop-by-hop, its credentials and any
    impersonation it asked for; plus the cluster token (and ``Impersonate-User``)."""
    listed = _listed_in_connection(incoming)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        low = name.lower()
        if low in _DROP_REQUEST or low in listed or low.startswith("impersonate-"):
            continue
        out.add(name, value)
    if token:
        out["Authorization"] = f"Bearer {token}"
    if user:
        out["Impersonate-User"] = user
    if peer:
        out.add("X-Forwarded-For", peer)
    return out


def response_headers(incoming: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    listed = _listed_in_connection(incoming)
    return CIMultiDict(
        (k, v) for k, v in incoming.items() if k.lower() not in _DROP_RESPONSE and k.lower() not in listed
    )


@contextlib.contextmanager
def _closed_with_client(request: web.Request, response: aiohttp.ClientResponse) -> Iterator[None]:
    """Close the upstream stream soon after the client goes away (an idle watch writes nothing that
    would notice), so the apiserver's watch does not outlive its reader."""
    loop = asyncio.get_running_loop()
    handle: asyncio.TimerHandle | None = None

    def check() -> None:
        nonlocal handle
        transport = request.transport
        if transport is None or transport.is_closing():
            response.close()
        else:
            handle = loop.call_later(DISCONNECT_POLL, check)

    handle = loop.call_later(DISCONNECT_POLL, check)
    try:
        yield
    finally:
        handle.cancel()


async def relay_response(
    request: web.Request, response: aiohttp.ClientResponse, *, streaming: bool, what: str
) -> web.StreamResponse:
    """Copy ``response`` to the client: whole when small and bounded, else chunk by chunk as it comes."""
    try:
        headers = response_headers(response.headers)
        length = response.content_length
        if not streaming and length is not None and length <= BUFFER_LIMIT:
            try:
                data = await response.read()
            except aiohttp.ServerTimeoutError:
                raise errors.GatewayTimeout(f"cluster {what}: the apiserver stopped answering") from None
            except aiohttp.ClientError as e:
                raise errors.BackendUnavailable(
                    f"cluster {what}: the response broke off ({type(e).__name__})"
                ) from None
            return web.Response(status=response.status, reason=response.reason, headers=headers, body=data)
        out = web.StreamResponse(status=response.status, reason=response.reason, headers=headers)
        if length is not None:
            out.content_length = length
        await out.prepare(request)
        try:
            with _closed_with_client(request, response):
                async for chunk in response.content.iter_any():
                    await out.write(chunk)
        except (aiohttp.ClientError, ConnectionResetError, TimeoutError) as e:
            # Too late for a status: cut the client's connection so it sees an incomplete body.
            logger.info("cluster %s: stream ended early: %s", what, type(e).__name__)
            out.force_close()
            return out
        await out.write_eof()
        return out
    finally:
        if response.content.at_eof():
            response.release()  # back to the pool
        else:
            response.close()
