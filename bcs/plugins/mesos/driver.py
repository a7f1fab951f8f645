"""The Mesos driver API (bk-bcs §6.6) under ``/bcsapi/v4/scheduler/mesos/``, answered in process.

The gateway picks the cluster by the ``BCS-ClusterID`` header and hands the request to
:meth:`MesosBackend.handle_request`; :func:`dispatch` matches the rest of the path (the gateway's
``{path}``) against the table below and answers in the ``{result, code, message, data}`` envelope.
Bad JSON or an invalid object is a 400 naming the field, before anything changes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bcs import envelope, errors
from bcs.plugins.mesos import convert, inplace, objects, rolling

if TYPE_CHECKING:
    from bcs.plugins.mesos.scheduler import Scheduler

__all__ = ["ROUTES", "dispatch"]

Handler = Callable[["Scheduler", web.Request, dict[str, str]], Awaitable[Any]]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
_NS = r"namespaces/(?P<ns>[^/]+)"


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def add(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{pattern}/?$"), fn))
        return fn

    return add


async def dispatch(sched: Scheduler, request: web.Request, path: str) -> web.StreamResponse:
    allowed = False
    for method, pattern, handler in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        allowed = True
        if method == request.method:
            data = await handler(sched, request, match.groupdict())
            return envelope.ok(data)
    if allowed:
        raise errors.BadRequest(f"method {request.method} is not allowed on {path}")
    raise errors.NotFound(f"no Mesos driver route {request.method} {path}")


async def _body(request: web.Request, kind: str) -> Any:
    doc = await envelope.read_json(request)
    return objects.parse(doc, kind=kind)


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(f"{what} must be an integer, not {value!r}") from None


# -- applications ------------------------------------------------------------------------------


@route("POST", f"{_NS}/applications")
async def create_app(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    spec = await _body(request, "application")
    _same_namespace(spec, m["ns"])
    sched.submit_app(spec)
    return {"name": spec.name, "namespace": spec.namespace}


@route("PUT", f"{_NS}/applications")
async def update_app(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    spec = await _body(request, "application")
    _same_namespace(spec, m["ns"])
    if _resources_only(request):
        return convert.app_doc(sched, inplace.update_app(sched, spec))
    raw = request.query.get("instances")
    app = sched.update_app(spec, instances=_int(raw, "instances") if raw else None)
    return convert.app_doc(sched, app)


@route("GET", f"{_NS}/applications")
async def list_apps(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    return [
        convert.app_doc(sched, a)
        for (ns, _), a in sorted(sched.apps.items())
        if ns == m["ns"] and not a.deleting
    ]


@route("GET", f"{_NS}/applications/(?P<name>[^/]+)")
async def get_app(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    return convert.app_doc(sched, sched.app(m["ns"], m["name"]))


@route("DELETE", f"{_NS}/applications/(?P<name>[^/]+)")
async def delete_app(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    sched.delete_app(m["ns"], m["name"])
    return None


@route("PUT", f"{_NS}/applications/(?P<name>[^/]+)/scale/(?P<n>[^/]+)")
async def scale_app(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    app = sched.scale(m["ns"], m["name"], _int(m["n"], "instances"))
    return convert.app_doc(sched, app)


@route("GET", f"{_NS}/applications/(?P<name>[^/]+)/taskgroups")
async def list_taskgroups(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    sched.app(m["ns"], m["name"])
    return [convert.taskgroup_doc(tg, cluster_id=sched.cluster_id) for tg in sched.tgs_of(m["ns"], m["name"])]


@route("PUT", f"{_NS}/applications/(?P<name>[^/]+)/taskgroups/(?P<tg>[^/]+)/rescheduler")
async def reschedule(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    sched.reschedule(m["ns"], m["name"], m["tg"])
    return None


# -- deployments -------------------------------------------------------------------------------


@route("POST", f"{_NS}/deployments")
async def create_deployment(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    spec = await _body(request, "deployment")
    _same_namespace(spec, m["ns"])
    return convert.deployment_doc(sched, rolling.create(sched, spec))


@route("PUT", f"{_NS}/deployments")
async def update_deployment(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    spec = await _body(request, "deployment")
    _same_namespace(spec, m["ns"])
    if _resources_only(request):
        return convert.deployment_doc(sched, inplace.update_deployment(sched, spec))
    return convert.deployment_doc(sched, rolling.update(sched, spec))


@route("GET", f"{_NS}/deployments")
async def list_deployments(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    deps = sorted(sched.deployments.items())
    return [convert.deployment_doc(sched, d) for (ns, _), d in deps if ns == m["ns"]]


@route("GET", f"{_NS}/deployments/(?P<name>[^/]+)")
async def get_deployment(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    return convert.deployment_doc(sched, rolling.get(sched, m["ns"], m["name"]))


@route("DELETE", f"{_NS}/deployments/(?P<name>[^/]+)")
async def delete_deployment(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    rolling.delete(sched, m["ns"], m["name"])
    return None


@route("PUT", f"{_NS}/deployments/(?P<name>[^/]+)/scale/(?P<n>[^/]+)")
async def scale_deployment(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    return convert.deployment_doc(sched, rolling.scale(sched, m["ns"], m["name"], _int(m["n"], "instances")))


@route("PUT", f"{_NS}/deployments/(?P<name>[^/]+)/(?P<op>cancelupdate|pauseupdate|resumeupdate)")
async def deployment_op(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    op = {"cancelupdate": rolling.cancel, "pauseupdate": rolling.pause, "resumeupdate": rolling.resume}
    return convert.deployment_doc(sched, op[m["op"]](sched, m["ns"], m["name"]))


# -- configmaps, secrets, services ----------------------------------------------------------------


def _plain(kind: str) -> None:
    async def put(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
        obj = await _body(request, kind)
        _same_namespace(obj, m["ns"])
        key = (kind, obj.namespace, obj.name)
        if request.method == "POST" and key in sched.objects:
            raise errors.Conflict(f"{kind} {obj.namespace}/{obj.name} already exists")
        sched.objects[key] = dict(obj.raw)
        sched.store.put(sched.store.key(*key), dict(obj.raw))
        return {"name": obj.name, "namespace": obj.namespace}

    async def remove(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
        key = (kind, m["ns"], m["name"])
        if sched.objects.pop(key, None) is None:
            raise errors.NotFound(f"{kind} {m['ns']}/{m['name']} does not exist")
        sched.store.delete(sched.store.key(*key))
        return None

    async def listing(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
        return [v for (k, ns, _), v in sorted(sched.objects.items()) if k == kind and ns == m["ns"]]

    route("POST", f"{_NS}/{kind}s")(put)
    route("PUT", f"{_NS}/{kind}s")(put)
    route("GET", f"{_NS}/{kind}s")(listing)
    route("DELETE", f"{_NS}/{kind}s/(?P<name>[^/]+)")(remove)


for _kind in ("configmap", "secret", "service"):
    _plain(_kind)


# -- cluster ------------------------------------------------------------------------------------


@route("GET", "cluster/current/offers")
async def offers(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    return [
        {
            "id": o.id,
            "agentId": o.agent_id,
            "hostname": o.hostname,
            "cpus": o.cpus,
            "mem": o.mem,
            "disk": o.disk,
            "ports": [f"{b}-{e}" for b, e in o.ports],
            "valid": o.valid,
        }
        for o in sched.pool.all()
    ]


@route("GET", "cluster/resources")
async def resources(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    pool = sched.pool.all()
    return {
        "clusterId": sched.cluster_id,
        "offeredCpu": sum(o.cpus for o in pool),
        "offeredMem": sum(o.mem for o in pool),
        "taskgroups": len(sched.taskgroups),
        "applications": len(sched.apps),
    }


@route("GET", "definition/(?P<kind>application|deployment)/(?P<ns>[^/]+)/(?P<name>[^/]+)")
async def definition(sched: Scheduler, request: web.Request, m: dict[str, str]) -> Any:
    if m["kind"] == "application":
        return dict(sched.app(m["ns"], m["name"]).spec.raw)
    return dict(rolling.get(sched, m["ns"], m["name"]).spec.raw)


def _resources_only(request: web.Request) -> bool:
    """``?args=resource``: an in-place resource update (any other ``args`` is refused)."""
    args = request.query.get("args")
    if args not in (None, "", "resource"):
        raise errors.BadRequest(f"invalid args: must be 'resource', not {args!r}")
    return args == "resource"


def _same_namespace(obj: Any, namespace: str) -> None:
    if obj.namespace != namespace:
        raise errors.BadRequest(
            f"invalid metadata.namespace: {obj.namespace!r} differs from {namespace!r} in the path"
        )
