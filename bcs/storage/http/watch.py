"""Watch streams over HTTP (spec/bkbcs.md §3.5): ``POST dynamic/watch/{clusterId}/{resourceType}``
and ``POST events/watch`` (optional ``?clusterId=``).

The body is ``WatchOptions`` (``{"selfOnly": bool, "maxEvents": n, "timeout": ns, "mustDiff": "x"}``,
all optional). The subscription exists before the 200 goes out, so every change committed after the
response headers arrive is seen, whichever ``bcs`` process wrote it. The body is then a stream of
JSON objects ``{"type": t, "value": document}``, one a line, each flushed as it happens, and always
ends with WatchBreak ``{"type": -1, "value": null}``: after ``maxEvents`` events, after ``timeout``,
when the server shuts down, or when the watcher falls too far behind. ``mustDiff`` drops updates
that leave ``data`` as this stream last sent it. ``selfOnly`` (a ZooKeeper-era option: "the node,
not its children") is accepted and changes nothing: a collection watch has no child nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import attrs
import orjson
from aiohttp import web

from bcs import errors
from bcs.storage.http import common, params
from bcs.storage.service import documents, messages
from bcs.storage.service import watch as watch_mod

__all__ = ["WatchOptions", "parse_options", "routes"]

routes = web.RouteTableDef()

IDLE_CHECK = 1.0  # seconds between checks that an idle watcher is still connected
_BREAK = orjson.dumps({"type": messages.WatchType.BREAK, "value": None}) + b"\n"


@attrs.frozen
class WatchOptions:
    self_only: bool = False
    max_events: int = 0  # 0: unlimited
    timeout: float = 0.0  # seconds; 0: none
    must_diff: bool = False


def parse_options(body: object) -> WatchOptions:
    """``WatchOptions`` from a request body (None: the defaults)."""
    if body is None:
        return WatchOptions()
    if not isinstance(body, Mapping):
        raise errors.BadRequest("the request body must be a WatchOptions object")
    self_only = body.get("selfOnly", False)
    if not isinstance(self_only, bool):
        raise errors.BadRequest(f"selfOnly must be true or false, not {self_only!r}")
    must_diff = body.get("mustDiff", "")
    if not isinstance(must_diff, str | bool):
        raise errors.BadRequest(f"mustDiff must be a string, not {must_diff!r}")
    max_events = params.parse_int("maxEvents", body.get("maxEvents", 0))
    timeout_ns = params.parse_int("timeout", body.get("timeout", 0))
    return WatchOptions(self_only, max_events, timeout_ns / 1e9, bool(must_diff))


def _frame(event: watch_mod.WatchEvent) -> bytes:
    return orjson.dumps({"type": event.type, "value": event.value}) + b"\n"


def _unchanged(last: dict[tuple[Any, ...], bytes], event: watch_mod.WatchEvent) -> bool:
    """Whether ``event`` repeats the data this stream last sent for its object (and remember it)."""
    value = event.value if isinstance(event.value, Mapping) else {}
    ident = (value.get("namespace"), value.get("resourceName"), value.get("id"))
    if event.type == messages.WatchType.DELETE:
        last.pop(ident, None)
        return False
    fingerprint = orjson.dumps(value.get("data"), option=orjson.OPT_SORT_KEYS)
    if last.get(ident) == fingerprint:
        return True
    last[ident] = fingerprint
    return False


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _stream(
    request: web.Request, options: WatchOptions, stream: watch_mod.WatchStream
) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.timeout if options.timeout else None
    last: dict[tuple[Any, ...], bytes] = {}
    sent = 0
    # The client may leave at any write: then there is nobody to send WatchBreak to.
    with contextlib.suppress(ConnectionResetError):
        await response.prepare(request)
        while not options.max_events or sent < options.max_events:
            wait = IDLE_CHECK if deadline is None else min(IDLE_CHECK, deadline - loop.time())
            if wait <= 0:
                break
            try:
                event = await stream.next(timeout=wait)
            except EOFError:
                break
            if event is None:
                if _gone(request):
                    return response
                continue
            if options.must_diff and _unchanged(last, event):
                continue
            await response.write(_frame(event))
            sent += 1
        await response.write(_BREAK)
        await response.write_eof()
    return response


async def _watch(
    request: web.Request, kind: str, *, cluster_id: str | None, resource_type: str | None
) -> web.StreamResponse:
    options = parse_options(await common.optional_json(request))
    service = common.service(request)
    stream = await service.watches.open(kind, cluster_id, resource_type)
    try:
        return await _stream(request, options, stream)
    finally:
        await service.watches.release(stream)


@routes.post(f"{common.PREFIX}/dynamic/watch/{{clusterId}}/{{resourceType}}")
async def watch_resources(request: web.Request) -> web.StreamResponse:
    m = request.match_info
    resource_type = documents.check_resource_type(m["resourceType"])
    return await _watch(request, messages.RESOURCE, cluster_id=m["clusterId"], resource_type=resource_type)


@routes.post(f"{common.PREFIX}/events/watch")
async def watch_events(request: web.Request) -> web.StreamResponse:
    cluster_id = request.query.get("clusterId") or None
    return await _watch(request, messages.EVENT, cluster_id=cluster_id, resource_type=None)
