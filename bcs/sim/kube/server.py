"""The aiohttp application of one simulated cluster: auth, discovery, OpenAPI and the REST verbs.

Paths under ``/api`` and ``/apis`` are parsed here against the cluster's registry (CRDs come and go,
so there is no static route per resource); the object semantics live in ``api``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from bcs.sim.kube import (
    api,
    bodies,
    discovery,
    lists,
    openapi,
    podexec,
    resources,
    status,
    tables,
    typeschema,
    watchhttp,
)
from bcs.sim.kube.lists import media_types, respond, wants_table

if TYPE_CHECKING:
    from bcs.sim.kube import cluster as cluster_mod

__all__ = ["CLUSTER", "Target", "make_app", "respond", "wants_table"]

CLUSTER: web.AppKey[cluster_mod.Cluster] = web.AppKey("cluster")
_JSON = "application/json"
_NOT_FOUND = status.ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _wants_aggregated(request: web.Request) -> bool:
    for m in media_types(request.headers.get("Accept", "")):
        if m.get("as") == "APIGroupDiscoveryList" and m.get("v") == "v2":
            return True
        if m.get("type") in ("application/json", "*/*") and "as" not in m:
            return False
    return False


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except status.ApiError as exc:
        return respond(exc.body(), exc.code)
    except web.HTTPNotFound:
        return respond(_NOT_FOUND.body(), 404)
    except web.HTTPMethodNotAllowed:
        return respond(status.method_not_allowed(request.method).body(), 405)


@web.middleware
async def _auth(request: web.Request, handler: Any) -> web.StreamResponse:
    cl = request.app[CLUSTER]
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != cl.token:
            raise status.unauthorized()
    elif cl.require_auth:
        raise status.unauthorized()
    return await handler(request)


class Target:
    """A parsed resource path: type, namespace, name and subresource (any may be empty)."""

    __slots__ = ("name", "ns", "rt", "sub")

    def __init__(self, rt: resources.ResourceType, ns: str | None, name: str, sub: str) -> None:
        self.rt, self.ns, self.name, self.sub = rt, ns, name, sub


def _parse(reg: resources.Registry, group: str, version: str, parts: list[str]) -> Target:
    if parts and parts[0] == "namespaces" and len(parts) >= 3:
        rt = reg.get(group, version, parts[2])
        if rt is not None and rt.namespaced:
            rest = parts[3:]
            if len(rest) > 2:
                raise _NOT_FOUND
            return Target(rt, parts[1], rest[0] if rest else "", rest[1] if len(rest) > 1 else "")
    if not parts:
        raise _NOT_FOUND
    rt = reg.get(group, version, parts[0])
    if rt is None or len(parts) > 3:
        raise _NOT_FOUND
    if rt.namespaced and len(parts) > 1:
        raise _NOT_FOUND
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    if sub and sub not in rt.subresources:
        raise _NOT_FOUND
    return Target(rt, None, name, sub)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _manager(request: web.Request) -> str:
    manager = request.query.get("fieldManager", "")
    if not manager:
        ua = request.headers.get("User-Agent", "unknown")
        manager = ua.split("/")[0] or "unknown"
    return manager[:128]


def _one(
    request: web.Request, rt: resources.ResourceType, obj: dict[str, Any], code: int = 200
) -> web.Response:
    if wants_table(request) and obj.get("kind") == rt.kind:
        return respond(tables.table(rt, [obj], include=request.query.get("includeObject", "Metadata")), code)
    return respond(obj, code)


def _delete_options(request: web.Request, body: Any) -> dict[str, Any]:
    opts = dict(body) if isinstance(body, dict) else {}
    if "gracePeriodSeconds" in request.query:
        opts["gracePeriodSeconds"] = int(request.query["gracePeriodSeconds"])
    if "propagationPolicy" in request.query:
        opts["propagationPolicy"] = request.query["propagationPolicy"]
    if "orphanDependents" in request.query:
        opts["orphanDependents"] = _flag(request, "orphanDependents")
    if opts.get("propagationPolicy") not in (None, "Orphan", "Background", "Foreground"):
        raise status.bad_request(f"unsupported propagationPolicy {opts['propagationPolicy']!r}")
    return opts


async def _resource(request: web.Request) -> web.StreamResponse:
    cl = request.app[CLUSTER]
    tail = request.match_info["tail"].strip("/")
    parts = tail.split("/") if tail else []
    if request.path.startswith("/apis"):
        if not parts:
            raise _NOT_FOUND
        group = parts.pop(0)
        if not parts:
            doc = discovery.group(cl.registry, group)
            if doc is None:
                raise _NOT_FOUND
            return respond(doc)
        version = parts.pop(0)
    else:
        if not parts:
            raise _NOT_FOUND
        group, version = "", parts.pop(0)
    if not parts:
        doc = discovery.resource_list(cl.registry, group, version)
        if doc is None:
            raise _NOT_FOUND
        return respond(doc)
    t = _parse(cl.registry, group, version, parts)
    method = request.method
    dry = request.query.get("dryRun") == "All"
    a = cl.api
    if not t.name:
        if method == "GET":
            if request.query.get("watch", "").lower() in ("true", "1"):
                labels, fields = lists.selectors_for(request, t.rt)
                return await watchhttp.serve(request, cl, t.rt, t.ns, labels, fields)
            return await lists.serve(request, cl, t.rt, t.ns)
        if method == "POST":
            fv = bodies.check_for(request, "CreateOptions")
            body = await bodies.read(request, t.rt, fv)
            obj = a.create(t.rt, t.ns, body, manager=_manager(request), dry_run=dry, fv=fv)
            return bodies.add_warnings(_one(request, t.rt, obj, 201), fv)
        if method == "DELETE":
            srt, labels, fields = lists.stored_selectors(request, cl, t.rt)
            opts = _delete_options(request, await bodies.read(request, t.rt, kind="DeleteOptions"))
            objs, _, _ = cl.store.select(srt, t.ns, labels, fields)
            done = [a.delete(t.rt, o.ns, o.name, opts, dry_run=dry) for o in objs]
            return respond(
                {
                    "kind": t.rt.list_kind,
                    "apiVersion": t.rt.api_version,
                    "metadata": {"resourceVersion": str(cl.store.rv)},
                    "items": done,
                }
            )
        raise status.method_not_allowed(method.lower())
    if t.sub in ("log", "exec", "attach", "portforward"):
        return await podexec.handle(request, cl, t.rt, t.ns or "", t.name, t.sub)
    if t.sub == "binding":
        if method != "POST":
            raise status.method_not_allowed(method.lower())
        fv = bodies.check_for(request, "CreateOptions")
        body = await bodies.read(request, t.rt, fv, kind="Binding")
        fv.decoded(t.rt, body, kind="Binding", msg=typeschema.MESSAGES["core.Binding"])
        node = ((body or {}).get("target") or {}).get("name", "")
        cl.bind_pod(t.ns or "", t.name, node)
        return respond(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
        )
    if t.sub == "scale":
        if method == "GET":
            return respond(a.get_scale(t.rt, t.ns, t.name))
        if method == "PUT":
            fv = bodies.check_for(request, "UpdateOptions")
            body = await bodies.read(request, t.rt, fv, kind="Scale")
            fv.decoded(t.rt, body, kind="Scale", msg=typeschema.MESSAGES["autoscaling.Scale"])
            scale = a.update_scale(t.rt, t.ns, t.name, body, manager=_manager(request), dry_run=dry)
            return bodies.add_warnings(respond(scale), fv)
    if t.sub == "finalize" and method == "PUT":
        fv = bodies.check_for(request, "UpdateOptions")
        body = await bodies.read(request, t.rt, fv)
        obj = a.update(t.rt, t.ns, t.name, body, sub="all", manager=_manager(request), dry_run=dry, fv=fv)
        return bodies.add_warnings(respond(obj), fv)
    sub = t.sub if t.sub in ("status", "scale") else ""
    if t.sub and not sub:
        raise status.method_not_allowed(method.lower())
    if method == "GET":
        return _one(request, t.rt, a.get(t.rt, t.ns, t.name))
    if method == "PUT":
        fv = bodies.check_for(request, "UpdateOptions")
        body = await bodies.read(request, t.rt, fv)
        obj = a.update(t.rt, t.ns, t.name, body, sub=sub, manager=_manager(request), dry_run=dry, fv=fv)
        return bodies.add_warnings(_one(request, t.rt, obj), fv)
    if method == "PATCH":
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype not in (api.MERGE, api.JSON, api.SMP, api.APPLY):
            raise status.unsupported_media(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{api.JSON}, {api.MERGE}, {api.APPLY}" + ("" if t.rt.is_custom else f", {api.SMP}")
            )
        manager = request.query.get("fieldManager", "") if ctype == api.APPLY else _manager(request)
        fv = bodies.check_for(request, "PatchOptions")
        obj, created = a.patch(
            t.rt,
            t.ns,
            t.name,
            ctype,
            await request.read(),
            sub=sub,
            manager=manager,
            force=_flag(request, "force"),
            dry_run=dry,
            fv=fv,
        )
        return bodies.add_warnings(_one(request, t.rt, obj, 201 if created else 200), fv)
    if method == "DELETE":
        opts = _delete_options(request, await bodies.read(request, t.rt, kind="DeleteOptions"))
        obj = a.delete(t.rt, t.ns, t.name, opts, dry_run=dry)
        return _one(request, t.rt, obj)
    raise status.method_not_allowed(method.lower())


async def _version(request: web.Request) -> web.Response:
    return respond(discovery.VERSION)


async def _api_root(request: web.Request) -> web.Response:
    cl = request.app[CLUSTER]
    if _wants_aggregated(request):
        body = orjson.dumps(discovery.aggregated(cl.registry, core=True))
        return web.Response(body=body, headers={"Content-Type": discovery.AGGREGATED_CT})
    return respond(discovery.api_versions(cl.address))


async def _apis_root(request: web.Request) -> web.Response:
    cl = request.app[CLUSTER]
    if _wants_aggregated(request):
        body = orjson.dumps(discovery.aggregated(cl.registry, core=False))
        return web.Response(body=body, headers={"Content-Type": discovery.AGGREGATED_CT})
    return respond(discovery.group_list(cl.registry))


async def _openapi_index(request: web.Request) -> web.Response:
    return respond(openapi.index(request.app[CLUSTER].registry))


async def _openapi_doc(request: web.Request) -> web.Response:
    parts = request.match_info["tail"].strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        group, version = "", parts[1]
    elif len(parts) == 3 and parts[0] == "apis":
        group, version = parts[1], parts[2]
    else:
        raise _NOT_FOUND
    enc = openapi.encoded(request.app[CLUSTER].registry, group, version)
    if enc is None:
        raise _NOT_FOUND
    return respond(enc[0])


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app(cl: cluster_mod.Cluster) -> web.Application:
    app = web.Application(middlewares=[_errors, _auth], client_max_size=3 * 1024 * 1024)
    app[CLUSTER] = cl
    r = app.router
    r.add_get("/version", _version)
    for path in ("/healthz", "/livez", "/readyz"):
        r.add_get(path, _health)
    r.add_get("/api", _api_root)
    r.add_get("/apis", _apis_root)
    r.add_get("/openapi/v3", _openapi_index)
    r.add_get("/openapi/v3/{tail:.+}", _openapi_doc)
    r.add_route("*", "/api/{tail:.*}", _resource)
    r.add_route("*", "/apis/{tail:.*}", _resource)
    return app
