"""Dynamic resource routes (spec/bkbcs.md §3.2): namespace, cluster and all resources, multi-cluster
lists and the purge of a cluster's data.

``{env}`` (k8s or mesos) selects nothing here: both environments share the collections, as upstream.
Reads answer a list (a GET by name gives 0 or 1 item); PUT takes ``{"data": {...}}`` and merges the
``extra`` parameter's fields into the stored document; DELETE soft-deletes, and a DELETE on a list
route deletes in a window ``updateTimeBegin < updateTime < updateTimeEnd`` (unix seconds in the body
or the query; 0 or absent = unbounded), narrowed by the usual filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bcs import envelope, errors
from bcs.storage.http import common, params
from bcs.storage.service import documents
from bcs.storage.store import conditions as c
from bcs.storage.store import port as store_port

__all__ = ["routes"]

routes = web.RouteTableDef()

_DYN = f"{common.PREFIX}/{common.ENV}/dynamic"
NAMESPACED = f"{_DYN}/namespace_resources/clusters/{{clusterId}}/namespaces/{{namespace}}/{{resourceType}}"
CLUSTERED = f"{_DYN}/cluster_resources/clusters/{{clusterId}}/{{resourceType}}"
ALL = f"{_DYN}/all_resources/clusters/{{clusterId}}/{{resourceType}}"
WINDOW = ("updateTimeBegin", "updateTimeEnd")


def _key(request: web.Request) -> dict[str, str]:
    """The feature key a by-name route addresses (no namespace on cluster routes)."""
    m = request.match_info
    key = {"clusterId": m["clusterId"], "resourceType": m["resourceType"], "resourceName": m["resourceName"]}
    if "namespace" in m:
        key["namespace"] = m["namespace"]
    return key


def _scope(request: web.Request) -> c.Condition:
    """What a list route covers: the cluster, and the namespace on namespace routes."""
    m = request.match_info
    parts: list[c.Condition] = [c.Eq("clusterId", m["clusterId"])]
    if "namespace" in m:
        parts.append(c.Eq("namespace", m["namespace"]))
    return c.And(*parts)


def _page(request: web.Request) -> params.Page:
    limit = common.service(request).settings.default_limit
    return params.page(params.from_query(request.query), default_limit=limit, skip=WINDOW)


def _render(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [documents.render(d) for d in docs]


async def _find(request: web.Request, where: c.Condition) -> web.Response:
    page = _page(request)
    with common.failing(common.GET_FAILED):
        docs = await common.service(request).find_resources(
            request.match_info["resourceType"], page.query(where)
        )
    return envelope.ok(_render(docs))


# -- by name ----------------------------------------------------------------------------------------


@routes.get(NAMESPACED + "/{resourceName}")
@routes.get(CLUSTERED + "/{resourceName}")
async def get_resource(request: web.Request) -> web.Response:
    return await _find(request, c.key_match(_key(request)))


def _put_extra(request: web.Request) -> dict[str, Any]:
    text = params.one(params.from_query(request.query), "extra")
    if text is None:
        return {}
    extra = params.decode_extra(text)
    for name in extra:
        if "." in name or name.startswith("$") or name in store_port.RESERVED:
            raise errors.BadRequest(f"parameter extra: field {name!r} cannot be stored beside the resource")
    return extra


@routes.put(NAMESPACED + "/{resourceName}")
@routes.put(CLUSTERED + "/{resourceName}")
async def put_resource(request: web.Request) -> web.Response:
    body = await envelope.read_json(request)
    if not isinstance(body, Mapping) or "data" not in body:
        raise errors.BadRequest('the request body must be {"data": {...}}')
    key = _key(request)
    resource = documents.Resource(
        cluster_id=key["clusterId"],
        resource_type=key["resourceType"],
        name=key["resourceName"],
        namespace=key.get("namespace"),
        data=body["data"],
        extra=_put_extra(request),
    )
    with common.failing(common.PUT_FAILED):
        await common.service(request).put_resource(resource)
    return envelope.ok(None)


@routes.delete(NAMESPACED + "/{resourceName}")
@routes.delete(CLUSTERED + "/{resourceName}")
async def delete_resource(request: web.Request) -> web.Response:
    where = _page(request).condition(c.key_match(_key(request)))
    with common.failing(common.DELETE_FAILED):
        await common.service(request).delete_resources(request.match_info["resourceType"], where)
    return envelope.ok(None)


# -- lists --------------------------------------------------------------------------------------------


@routes.get(NAMESPACED)
@routes.get(CLUSTERED)
@routes.get(ALL)
async def list_resources(request: web.Request) -> web.Response:
    return await _find(request, _scope(request))


async def _window(request: web.Request) -> tuple[Any, Any]:
    body = await common.optional_json(request)
    if body is not None and not isinstance(body, Mapping):
        raise errors.BadRequest('the request body must be {"updateTimeBegin": unix, "updateTimeEnd": unix}')
    query = params.from_query(request.query)
    bounds = []
    for name in WINDOW:
        value = (body or {}).get(name, params.one(query, name))
        if value in (None, "", 0, "0"):
            bounds.append(None)
        else:
            bounds.append(params.parse_time(name, value))
    return bounds[0], bounds[1]


@routes.delete(NAMESPACED)
@routes.delete(CLUSTERED)
@routes.delete(ALL)
async def delete_resources(request: web.Request) -> web.Response:
    begin, end = await _window(request)
    where = _page(request).condition(_scope(request))
    with common.failing(common.DELETE_FAILED):
        await common.service(request).delete_resources(
            request.match_info["resourceType"], where, begin=begin, end=end
        )
    return envelope.ok(None)


# -- several clusters, a whole cluster ----------------------------------------------------------------


@routes.post(f"{common.PREFIX}/k8s/dynamic/multicluster_resources/{{resourceType}}")
async def list_multicluster(request: web.Request) -> web.Response:
    """Body: ``{"clusterIDs": [...], "namespaces": [...], "labelSelector", "field", "offset", "limit"}``."""
    body = params.from_json(await envelope.read_json(request))
    parts: list[c.Condition] = []
    for name, field in (("clusterIDs", "clusterId"), ("namespaces", "namespace")):
        vals = params.values(body, name)
        if not all(isinstance(v, str) for v in vals):
            raise errors.BadRequest(f"{name} must be a list of strings")
        if vals:
            parts.append(c.In(field, vals))
    extra = params.generic_conditions(body, skip=params.LIST_PARAMS | {"clusterIDs", "namespaces"})
    limit = common.service(request).settings.default_limit
    page = params.page(body, default_limit=limit, generic=False)
    resource_type = request.match_info["resourceType"]
    svc = common.service(request)
    with common.failing(common.LIST_FAILED):
        docs, total = await svc.page_resources(resource_type, page.query(*parts, *extra))
    return envelope.ok(_render(docs), total=total, offset=page.offset, pageSize=page.limit)


@routes.delete(f"{common.PREFIX}/clusters/{{clusterId}}/data")
async def purge_cluster(request: web.Request) -> web.Response:
    with common.failing(common.DELETE_FAILED):
        removed = await common.service(request).purge_cluster(request.match_info["clusterId"])
    return envelope.ok({"removed": removed})
