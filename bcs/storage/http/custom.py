"""Custom resource routes: schemaless collections and their indexes.

``PUT dynamic/customresources/{type}`` takes ``{"data": {...}}`` and upserts the object on the fields
of the collection's unique index (see :class:`~bcs.storage.service.records.CustomResources`); GET
filters with the §3.3 parameters (``clusterId=a,b&namespace=x``...) and answers ``total``,
``pageSize`` and ``offset`` beside ``data``; DELETE soft-deletes what the filters match.
``PUT .../index/{name}`` takes ``{"key": {"field": 1 | -1, ...}, "unique": bool}`` (also accepted
wrapped in ``{"data": ...}``, or with ``keys`` / ``index`` for ``key``).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from bcs import envelope, errors
from bcs.storage.http import common, params

__all__ = ["routes"]

routes = web.RouteTableDef()

CUSTOM = f"{common.PREFIX}/dynamic/customresources/{{resourceType}}"


def _page(request: web.Request) -> params.Page:
    limit = common.service(request).settings.default_limit
    return params.page(params.from_query(request.query), default_limit=limit)


@routes.get(CUSTOM)
async def list_custom(request: web.Request) -> web.Response:
    page = _page(request)
    resource_type = request.match_info["resourceType"]
    custom = common.service(request).custom
    with common.failing(common.LIST_FAILED):
        docs, total = await custom.page(resource_type, page.query())
    return envelope.ok(docs, total=total, pageSize=page.limit, offset=page.offset)


@routes.put(CUSTOM)
async def put_custom(request: web.Request) -> web.Response:
    body = await envelope.read_json(request)
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), Mapping):
        raise errors.BadRequest('the request body must be {"data": {...}}')
    with common.failing(common.PUT_FAILED):
        await common.service(request).custom.put(request.match_info["resourceType"], body["data"])
    return envelope.ok(None)


@routes.delete(CUSTOM)
async def delete_custom(request: web.Request) -> web.Response:
    where = _page(request).condition()
    with common.failing(common.DELETE_FAILED):
        deleted = await common.service(request).custom.delete(request.match_info["resourceType"], where)
    return envelope.ok({"deleted": deleted})


def _index_spec(body: object) -> tuple[list[tuple[tuple[str, ...], int]], bool]:
    if isinstance(body, Mapping) and isinstance(body.get("data"), Mapping):
        body = body["data"]
    if not isinstance(body, Mapping):
        raise errors.BadRequest('the request body must be {"key": {"field": 1, ...}, "unique": false}')
    spec = next((body[k] for k in ("key", "keys", "index") if k in body), None)
    if not isinstance(spec, Mapping) or not spec:
        raise errors.BadRequest('key must be a non-empty object {"field": 1 | -1, ...}')
    keys = []
    for field, direction in spec.items():
        if direction not in (1, -1) or isinstance(direction, bool):
            raise errors.BadRequest(f"key {field!r}: the direction must be 1 or -1, not {direction!r}")
        keys.append((params.path(field, f"key {field!r}"), direction))
    unique = body.get("unique", False)
    if not isinstance(unique, bool):
        raise errors.BadRequest(f"unique must be true or false, not {unique!r}")
    return keys, unique


@routes.put(CUSTOM + "/index/{indexName}")
async def put_index(request: web.Request) -> web.Response:
    keys, unique = _index_spec(await envelope.read_json(request))
    m = request.match_info
    with common.failing(common.PUT_FAILED):
        await common.service(request).custom.ensure_index(
            m["resourceType"], m["indexName"], keys, unique=unique
        )
    return envelope.ok(None)


@routes.delete(CUSTOM + "/index/{indexName}")
async def delete_index(request: web.Request) -> web.Response:
    m = request.match_info
    with common.failing(common.DELETE_FAILED):
        await common.service(request).custom.drop_index(m["resourceType"], m["indexName"])
    return envelope.ok(None)
