"""The HTTP side of watch: newline-delimited JSON events on a chunked response, flushed per event.

Handles ``resourceVersion`` resume (with 410 ``Expired`` once history has been compacted),
synthetic ADDED events for ``resourceVersion`` 0/absent and ``sendInitialEvents``, bookmarks about
once a bookmark interval and just before ``timeoutSeconds`` ends, and Table-shaped events.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from bcs.sim.kube import resources, selectors, status, store, tables, views, watch

if TYPE_CHECKING:
    from bcs.sim.kube import cluster as cluster_mod

__all__ = ["INITIAL_EVENTS_END", "serve"]

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _line(kind: str, obj: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + obj + b"}\n"


def _bookmark(rt: resources.ResourceType, rv: int, *, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return _line("BOOKMARK", orjson.dumps({"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}))


async def serve(
    request: web.Request,
    cl: cluster_mod.Cluster,
    rt: resources.ResourceType,
    ns: str | None,
    labels: tuple[selectors.Requirement, ...],
    fields: tuple[selectors.Requirement, ...],
) -> web.StreamResponse:
    from bcs.sim.kube import server  # the server imports this module; late import avoids a cycle

    q = request.query
    flag = {k: q.get(k, "").lower() in ("true", "1") for k in ("allowWatchBookmarks", "sendInitialEvents")}
    bookmarks, send_initial = flag["allowWatchBookmarks"], flag["sendInitialEvents"]
    if send_initial and (q.get("resourceVersionMatch") != "NotOlderThan" or not bookmarks):
        raise status.invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            [
                (
                    "FieldValueForbidden",
                    "resourceVersionMatch",
                    "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan "
                    "and allowWatchBookmarks",
                )
            ],
        )
    try:
        timeout = (
            float(q["timeoutSeconds"])
            if q.get("timeoutSeconds")
            else cl.watch_timeout * (1 + random.random())
        )
    except ValueError:
        raise status.bad_request(f"invalid timeoutSeconds {q.get('timeoutSeconds')!r}") from None
    rv_param = q.get("resourceVersion", "")
    as_table = server.wants_table(request)
    st = cl.store
    srt = cl.api.storage(rt)
    fields = views.fields(rt, fields)
    w = watch.Watcher(srt, ns, labels, fields, max_queue=cl.hub.max_queue)
    initial: list[store.Obj] = []
    expired: status.ApiError | None = None
    start_rv = st.rv
    if send_initial or rv_param in ("", "0"):
        initial, _, _ = st.select(srt, ns, labels, fields)
    else:
        try:
            n = int(rv_param)
        except ValueError:
            raise status.bad_request(f"invalid resource version: {rv_param}") from None
        if n < st.compacted_rv:
            expired = status.expired(n, st.compacted_rv + 1)
        else:
            w.replay(st.events_after(n))
    if expired is None:
        cl.hub.add(w)  # synchronously after the snapshot: no event can fall in between
    resp = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    first = [True]

    def encode(kind: str, obj: store.Obj) -> bytes:
        if not as_table:
            return _line(kind, views.raw(rt, obj))
        shown = views.to_view(rt, obj.decode())
        table = tables.table(rt, [shown], include=q.get("includeObject", "Metadata"), with_defs=first[0])
        first[0] = False
        return _line(kind, orjson.dumps(table))

    try:
        if expired is not None:
            await resp.write(_line("ERROR", orjson.dumps(expired.body())))
            return resp
        for obj in initial:
            await resp.write(encode("ADDED", obj))
        if send_initial:
            await resp.write(_bookmark(rt, start_rv, initial_end=True))
        deadline = time.monotonic() + timeout
        final_bookmark = deadline - min(1.0, timeout / 10)
        next_bookmark = min(time.monotonic() + cl.bookmark_interval, final_bookmark)
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            wake = min(deadline, next_bookmark) if bookmarks else deadline
            if not w.queue.empty():
                # Take what is queued without waiting: a wait with a timeout already due is
                # cancelled before it can take anything, and a busy stream would go silent.
                item = w.queue.get_nowait()
            else:
                try:
                    item = await asyncio.wait_for(w.queue.get(), max(wake - now, 0))
                except TimeoutError:
                    item = False
            if item is None:
                break
            if item:
                kind, obj = item
                await resp.write(encode(kind, obj))
            if bookmarks and w.queue.empty() and time.monotonic() >= next_bookmark:
                await resp.write(_bookmark(rt, st.rv))
                next_bookmark = time.monotonic() + cl.bookmark_interval
                if next_bookmark > final_bookmark and time.monotonic() < final_bookmark:
                    next_bookmark = final_bookmark
                elif time.monotonic() >= final_bookmark:
                    next_bookmark = deadline + 1
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        cl.hub.discard(w)
    return resp
