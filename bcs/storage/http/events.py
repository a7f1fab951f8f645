"""Events and alarms (spec/bkbcs.md §3.3).

``PUT /events`` stores one event; ``GET /events`` (or ``POST`` with the same parameters as a JSON
object) filters on ``id, env, kind, level, component, type, clusterId, extraInfo.name,
extraInfo.namespace, extraInfo.kind`` (comma lists), ``timeBegin``/``timeEnd`` (unix seconds,
inclusive, on ``eventTime``), pages with ``offset``/``length`` and answers ``total``. ``extra`` adds
equality conditions; ``extra_contain`` (base64 JSON ``{"path": "text"}``) keeps events whose string
field contains the text, checked here rather than in the store (the Store port has no substring
match), so such queries read every candidate. ``POST /alarms`` stores an alarm; ``GET /alarms``
filters on ``clusterId, namespace, source, module, type`` and ``timeBegin``/``timeEnd`` on
``receivedTime``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bcs import envelope, errors
from bcs.storage.http import common, params
from bcs.storage.store import conditions as c
from bcs.storage.store import port as store_port

__all__ = ["routes"]

routes = web.RouteTableDef()

EVENT_FILTERS = (
    "id",
    "env",
    "kind",
    "level",
    "component",
    "type",
    "clusterId",
    "extraInfo.name",
    "extraInfo.namespace",
    "extraInfo.kind",
)
ALARM_FILTERS = ("clusterId", "namespace", "source", "module", "type")
COMMON = ("timeBegin", "timeEnd", "offset", "limit", "field", "extra")


def _filters(
    query: params.Params, names: tuple[str, ...], time_field: str, *, also: tuple[str, ...]
) -> list[c.Condition]:
    unknown = sorted(set(query) - set(names) - set(COMMON) - set(also))
    if unknown:
        raise errors.BadRequest(
            f"unknown parameter {unknown[0]}; accepted: {', '.join([*names, *COMMON, *also])}"
        )
    out: list[c.Condition] = []
    for name in names:
        vals = params.values(query, name)
        if vals:
            out.append(c.In(params.path(name, f"parameter {name}"), [str(v) for v in vals]))
    bounds = {}
    for name, op in (("timeBegin", "gte"), ("timeEnd", "lte")):
        value = params.one(query, name)
        if value not in (None, "", 0, "0"):
            bounds[op] = params.parse_time(name, value)
    if bounds:
        out.append(c.Range(time_field, **bounds))
    if (text := params.one(query, "extra")) is not None:
        out += params.extra_conditions(params.decode_extra(text))
    return out


def _contains(doc: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for key, text in wanted.items():
        value: Any = doc
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if not isinstance(value, str) or str(text) not in value:
            return False
    return True


def _paging(query: params.Params, default_limit: int) -> tuple[tuple[c.Path, ...], int, int]:
    fields = params.parse_fields(f) if (f := params.one(query, "field")) is not None else ()
    offset = params.parse_int("offset", params.one(query, "offset") or 0)
    size = params.one(query, "length") or params.one(query, "limit") or 0
    limit = params.parse_int("length" if "length" in query else "limit", size) or default_limit
    return fields, offset, limit


async def _list_events(request: web.Request, query: params.Params) -> web.Response:
    svc = common.service(request)
    where = c.And(*_filters(query, EVENT_FILTERS, "eventTime", also=("length", "extra_contain")))
    fields, offset, limit = _paging(query, svc.settings.default_limit)
    contain = params.one(query, "extra_contain")
    with common.failing(common.LIST_FAILED):
        if contain is None:
            docs, total = await svc.events.page(c.Query(where, fields=fields, offset=offset, limit=limit))
        else:
            wanted = params.decode_extra(contain, "extra_contain")
            matching = [d for d in await svc.events.find(c.Query(where)) if _contains(d, wanted)]
            total = len(matching)
            docs = [store_port.project(d, fields) for d in matching[offset : offset + limit]]
    return envelope.ok(docs, total=total)


@routes.get(f"{common.PREFIX}/events")
async def get_events(request: web.Request) -> web.Response:
    return await _list_events(request, params.from_query(request.query))


@routes.post(f"{common.PREFIX}/events")
async def post_events(request: web.Request) -> web.Response:
    body = await common.optional_json(request)
    return await _list_events(request, params.from_json({} if body is None else body))


@routes.put(f"{common.PREFIX}/events")
async def put_event(request: web.Request) -> web.Response:
    event = await envelope.read_json(request)
    with common.failing(common.PUT_FAILED):
        await common.service(request).events.put(event)
    return envelope.ok(None)


@routes.post(f"{common.PREFIX}/alarms")
async def post_alarm(request: web.Request) -> web.Response:
    alarm = await envelope.read_json(request)
    with common.failing(common.PUT_FAILED):
        await common.service(request).alarms.put(alarm)
    return envelope.ok(None)


@routes.get(f"{common.PREFIX}/alarms")
async def get_alarms(request: web.Request) -> web.Response:
    svc = common.service(request)
    query = params.from_query(request.query)
    where = c.And(*_filters(query, ALARM_FILTERS, "receivedTime", also=()))
    fields, offset, limit = _paging(query, svc.settings.default_limit)
    with common.failing(common.LIST_FAILED):
        docs, total = await svc.alarms.page(c.Query(where, fields=fields, offset=offset, limit=limit))
    return envelope.ok(docs, total=total)
