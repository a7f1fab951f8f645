"""LIST responses: selectors, limit/continue paging, Tables, and large lists streamed from stored bytes.

Items are the objects' stored JSON bytes (converted once for a view kind), so a list never re-encodes;
a large one is written in batches with its length known up front, never copied whole.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from bcs.sim.kube import resources, selectors, status, tables, views

if TYPE_CHECKING:
    from bcs.sim.kube import cluster as cluster_mod

__all__ = ["media_types", "respond", "selectors_for", "serve", "stored_selectors", "wants_table"]

_JSON = "application/json"
_LIST_BATCH = 2000  # objects per write of a streamed list


def respond(body: Any, code: int = 200) -> web.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return web.Response(body=raw, status=code, content_type=_JSON)


def media_types(accept: str) -> list[dict[str, str]]:
    out = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        params["type"] = fields[0]
        out.append(params)
    return out


def wants_table(request: web.Request) -> bool:
    return any(
        m.get("as") == "Table" and m.get("g") == "meta.k8s.io"
        for m in media_types(request.headers.get("Accept", ""))
    )


def _list_head(rt: resources.ResourceType, rv: str, cont: str, remaining: int) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
        meta["remainingItemCount"] = remaining
    head = orjson.dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
    return head[:-1] + b',"items":['


async def _send_list(request: web.Request, head: bytes, raws: list[bytes]) -> web.StreamResponse:
    """A list body from the objects' stored bytes: small ones in one piece, large ones streamed in
    batches (no copy of the whole list is ever made; the length is known up front)."""
    if len(raws) <= _LIST_BATCH:
        return respond(head + b",".join(raws) + b"]}")
    resp = web.StreamResponse(headers={"Content-Type": _JSON})
    resp.content_length = len(head) + sum(map(len, raws)) + len(raws) - 1 + 2
    await resp.prepare(request)
    await resp.write(head)
    for start in range(0, len(raws), _LIST_BATCH):
        batch = b",".join(raws[start : start + _LIST_BATCH])
        await resp.write(b"," + batch if start else batch)
    await resp.write(b"]}")
    await resp.write_eof()
    return resp


def selectors_for(
    request: web.Request, rt: resources.ResourceType
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    labels = selectors.parse_labels(request.query.get("labelSelector", ""))
    fields = selectors.parse_fields(request.query.get("fieldSelector", ""))
    allowed = rt.selectable()
    for key, _, _ in fields:
        if key not in allowed:
            raise status.bad_request(f"field label not supported: {key}")
    return labels, fields


def stored_selectors(
    request: web.Request, cl: cluster_mod.Cluster, rt: resources.ResourceType
) -> tuple[resources.ResourceType, tuple[Any, ...], tuple[Any, ...]]:
    """The kind whose storage a request reads, with its selectors in that kind's field labels."""
    labels, fields = selectors_for(request, rt)
    return cl.api.storage(rt), labels, views.fields(rt, fields)


async def serve(
    request: web.Request, cl: cluster_mod.Cluster, rt: resources.ResourceType, ns: str | None
) -> web.StreamResponse:
    """A LIST (or a Table of it) with label/field selectors and limit/continue paging."""
    srt, labels, fields = stored_selectors(request, cl, rt)
    limit = int(request.query.get("limit", "0") or 0)
    start = None
    rv = cl.store.rv
    token = request.query.get("continue", "")
    if token:
        try:
            data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            rv, start = int(data["rv"]), tuple(data["start"])
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise status.bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
            ) from None
        if rv < cl.store.compacted_rv:
            raise status.ApiError(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent "
                "list result. You can start a new list without the continue parameter.",
            )
    objs, last, remaining = cl.store.select(srt, ns, labels, fields, start_after=start, limit=limit)
    cont = ""
    if last is not None:
        cont = base64.urlsafe_b64encode(orjson.dumps({"rv": rv, "start": list(last)})).decode().rstrip("=")
    if wants_table(request):
        include = request.query.get("includeObject", "Metadata")
        shown = [views.to_view(rt, o.decode()) for o in objs]
        table = tables.table(rt, shown, include=include, rv=str(rv), cont=cont)
        return respond(table)
    raws = [o.raw for o in objs] if not rt.is_view else [views.raw(rt, o) for o in objs]
    return await _send_list(request, _list_head(rt, str(rv), cont, remaining), raws)
