"""The typed query API ``GET|POST query/{env}/dynamic/clusters/{clusterId}/{type}`` (spec §3.3).

Each type names its collection and the parameters it accepts; values are comma lists (IN), ints and
booleans are compared as such, and ``<x>Begin``/``<x>End`` bound a time field: unix seconds compared
with Kubernetes-style RFC 3339 strings (``2006-01-02T15:04:05Z``) for string timestamps, or as
numbers for unix-time fields (Mesos ``check_time``...). Every type also takes ``name``, ``namespace``,
``labelSelector``, ``field``, ``offset`` and ``limit``; an unknown parameter is a 400 listing the
accepted ones. POST takes the same parameters as a JSON object.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import attrs
from aiohttp import web

from bcs import envelope, errors
from bcs.storage.http import common, params
from bcs.storage.service import documents
from bcs.storage.store import conditions as c

__all__ = ["TYPES", "routes"]

routes = web.RouteTableDef()

STR, INT, BOOL, TIME, UNIX = "str", "int", "bool", "time", "unix"
RANGES = (TIME, UNIX)
PAGING = params.LIST_PARAMS  # accepted by every type


@attrs.frozen
class Param:
    path: str
    kind: str = STR


@attrs.frozen
class TypedKind:
    """A queryable type: its collection, parameters and the conditions it always adds."""

    collection: str
    params: Mapping[str, Param]
    base: tuple[c.Condition, ...] = ()


def _kind(collection: str, base: tuple[c.Condition, ...] = (), **extra: Param) -> TypedKind:
    common_params = {"name": Param("resourceName"), "namespace": Param("namespace")}
    return TypedKind(collection, {**common_params, **extra}, base)


def _k8s(collection: str, **extra: Param) -> TypedKind:
    return _kind(collection, createTime=Param("data.metadata.creationTimestamp", TIME), **extra)


def _status_ints(*names: str) -> dict[str, Param]:
    return {n: Param(f"data.status.{n}", INT) for n in names}


_WORKLOAD = {
    "resourceVersion": Param("data.metadata.resourceVersion"),
    "uid": Param("data.metadata.uid"),
    "generation": Param("data.metadata.generation", INT),
    "templateGeneration": Param("data.spec.templateGeneration", INT),
    "updateStrategyType": Param("data.spec.updateStrategy.type"),
    "podManagementPolicy": Param("data.spec.podManagementPolicy"),
    "serviceName": Param("data.spec.serviceName"),
}
_APPLICATION = {
    "instance": Param("data.instance", INT),
    "buildedInstance": Param("data.buildedInstance", INT),
    "runningInstance": Param("data.runningInstance", INT),
    "status": Param("data.status"),
    "lastStatus": Param("data.lastStatus"),
    "podIp": Param("data.podIP"),
    "createTime": Param("data.createTime", TIME),
    "lastUpdateTime": Param("data.lastUpdateTime", TIME),
}
_PROCESS = c.Eq("data.kind", "process")  # Mesos processes share the application collection

TYPES: dict[str, dict[str, TypedKind]] = {
    "k8s": {
        "pod": _k8s(
            "Pod",
            hostIp=Param("data.status.hostIP"),
            podIp=Param("data.status.podIP"),
            status=Param("data.status.phase"),
            startTime=Param("data.status.startTime", TIME),
        ),
        "replicaset": _k8s("ReplicaSet", **_status_ints("replicas", "availableReplicas", "readyReplicas")),
        "deployment": _k8s(
            "Deployment",
            **_status_ints("replicas", "availableReplicas", "updatedReplicas"),
            strategyType=Param("data.spec.strategy.type"),
            dnsPolicy=Param("data.spec.template.spec.dnsPolicy"),
            restartPolicy=Param("data.spec.template.spec.restartPolicy"),
        ),
        "statefulset": _k8s("StatefulSet", **_WORKLOAD),
        "daemonset": _k8s("DaemonSet", **_WORKLOAD),
        "job": _k8s("Job", **_WORKLOAD),
        "service": _k8s("Service", clusterIp=Param("data.spec.clusterIP"), type=Param("data.spec.type")),
        "configmap": _k8s("ConfigMap"),
        "secret": _k8s("Secret"),
        "ingress": _k8s("Ingress"),
        "endpoints": _k8s("Endpoints"),
        "namespace": _k8s("Namespace", status=Param("data.status.phase")),
        "node": _k8s("Node", externalID=Param("data.spec.externalID")),
    },
    "mesos": {
        "taskgroup": _kind(
            "taskgroup",
            rcName=Param("data.rcname"),
            status=Param("data.status"),
            lastStatus=Param("data.lastStatus"),
            hostIp=Param("data.hostIP"),
            hostName=Param("data.hostName"),
            podIp=Param("data.podIP"),
            startTime=Param("data.startTime", TIME),
            lastUpdateTime=Param("data.lastUpdateTime", TIME),
        ),
        "application": _kind("application", (c.Ne("data.kind", "process"),), **_APPLICATION),
        "process": _kind("application", (_PROCESS,), **_APPLICATION),
        "deployment": _kind(
            "deployment",
            checkTime=Param("data.check_time", INT),
            status=Param("data.status"),
            applicationName=Param("data.application.name"),
            applicationExtName=Param("data.application_ext.name"),
            currRollingOperation=Param("data.curr_rolling_operation"),
            isInRolling=Param("data.is_in_rolling", BOOL),
            lastRollingTime=Param("data.last_rolling_time", UNIX),
        ),
        **{
            t: _kind(t)
            for t in (
                "service",
                "configmap",
                "secret",
                "endpoints",
                "exportservice",
                "namespace",
                "ippoolstatic",
                "ippoolstaticdetail",
            )
        },
    },
}


def _values(name: str, raw: list[Any], kind: str) -> list[Any]:
    out: list[Any] = []
    for v in raw:
        if kind == INT:
            out.append(params.parse_int(name, v, minimum=-(2**63)))
        elif kind == BOOL:
            if isinstance(v, bool):
                out.append(v)
            elif str(v).lower() in ("true", "false"):
                out.append(str(v).lower() == "true")
            else:
                raise errors.BadRequest(f"parameter {name} must be true or false, not {v!r}")
        else:
            out.append(v if isinstance(v, str) else str(v))
    return out


def _bound(name: str, value: Any, kind: str) -> Any:
    when = params.parse_time(name, value)
    if kind == UNIX:
        return int(when.timestamp())
    return f"{when.astimezone(datetime.UTC):%Y-%m-%dT%H:%M:%SZ}"


def conditions(kind: TypedKind, query: params.Params) -> list[c.Condition]:
    """The conditions of a typed query's parameters (BadRequest on an unknown one)."""
    out: list[c.Condition] = list(kind.base)
    ranges: dict[str, dict[str, Any]] = {}
    for name in query:
        if name in PAGING:
            continue
        for suffix, op in (("Begin", "gte"), ("End", "lte")):
            base = name.removesuffix(suffix)
            p = kind.params.get(base) if base != name else None
            if p is not None and p.kind in RANGES:
                ranges.setdefault(base, {})[op] = _bound(name, params.one(query, name), p.kind)
                break
        else:
            p = kind.params.get(name)
            if p is None or p.kind in RANGES:
                accepted = sorted(
                    [n for n, q in kind.params.items() if q.kind not in RANGES]
                    + [n + s for n, q in kind.params.items() if q.kind in RANGES for s in ("Begin", "End")]
                    + sorted(PAGING)
                )
                raise errors.BadRequest(f"unknown parameter {name}; accepted: {', '.join(accepted)}")
            vals = _values(name, params.values(query, name), p.kind)
            if vals:
                out.append(c.In(p.path, vals))
    for base, bounds in ranges.items():
        out.append(c.Range(kind.params[base].path, **bounds))
    return out


async def _query(request: web.Request, query: params.Params) -> web.Response:
    m = request.match_info
    kind = TYPES[m["env"]].get(m["type"])
    if kind is None:
        known = ", ".join(sorted(TYPES[m["env"]]))
        raise errors.NotFound(f"no typed query for {m['env']} type {m['type']!r}; known: {known}")
    svc = common.service(request)
    where = [c.Eq("clusterId", m["clusterId"]), *conditions(kind, query)]
    page = params.page(query, default_limit=svc.settings.default_limit, generic=False)
    with common.failing(common.LIST_FAILED):
        docs, total = await svc.page_resources(kind.collection, page.query(*where))
    return envelope.ok([documents.render(d) for d in docs], total=total)


QUERY = f"{common.PREFIX}/query/{common.ENV}/dynamic/clusters/{{clusterId}}/{{type}}"


@routes.get(QUERY)
async def get_query(request: web.Request) -> web.Response:
    return await _query(request, params.from_query(request.query))


@routes.post(QUERY)
async def post_query(request: web.Request) -> web.Response:
    body = await common.optional_json(request)
    return await _query(request, params.from_json({} if body is None else body))
