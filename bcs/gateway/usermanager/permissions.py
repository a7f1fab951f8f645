"""Per-cluster permissions and verify, register tokens, and the legacy cluster and credential routes.

A permission gives a user a role on one cluster: ``viewer`` (get, list, watch) or ``manager``
(every verb). Granting and revoking take upstream's ``{"kind": "permissions", "spec":
{"permissions": [...]}}`` body and are checked whole before anything changes. A register token lets
a cluster's agent report that cluster's credential and nothing else.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bcs import envelope, errors, keys
from bcs.core import registry, users
from bcs.core.users import model as user_model
from bcs.gateway import auth, clusterjson, openapi
from bcs.gateway.usermanager import common

__all__ = ["routes"]

PREFIX = common.PREFIX
routes = web.RouteTableDef()

_PERMISSION = {
    "type": "object",
    "properties": {
        "user_name": {"type": "string"},
        "resource_type": {"enum": ["cluster"]},
        "resource": {"type": "string", "description": "a cluster id"},
        "role": {"enum": ["viewer", "manager"]},
    },
}
_PERMISSIONS_BODY = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "name": {"type": "string"},
        "spec": {"type": "object", "properties": {"permissions": {"type": "array", "items": _PERMISSION}}},
    },
}
_VERIFY_BODY = {
    "type": "object",
    "required": ["user_token", "resource_type", "action"],
    "properties": {
        "user_token": {"type": "string"},
        "resource_type": {"type": "string"},
        "resource": {"type": "string"},
        "cluster_id": {"type": "string", "description": "v2: the cluster, when resource_type is cluster"},
        "action": {"type": "string", "description": "an HTTP method or a Kubernetes verb"},
    },
}
_VERIFY_DATA = {
    "type": "object",
    "properties": {"allowed": {"type": "boolean"}, "message": {"type": "string"}},
}
_HTTP_ACTIONS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


async def _permissions(request: web.Request, *, with_role: bool) -> list[users.Permission]:
    """The validated entries of a grant/revoke body; BadRequest/NotFound before any change."""
    body = await common.object_body(request)
    spec = body.get("spec")
    entries = spec.get("permissions") if isinstance(spec, dict) else None
    if not isinstance(entries, list) or not entries:
        raise errors.BadRequest('the body needs "spec": {"permissions": [...]} with at least one entry')
    found = []
    mgr, clusters = common.manager(request), request.app[keys.CLUSTERS]
    for entry in entries:
        entry = common.known_fields(
            clusterjson.object_body(entry, what="a permission"),
            ["user_name", "resource_type", "resource", "role"],
        )
        role = entry.get("role") if with_role else entry.get("role", "viewer")
        permission = mgr.permission(
            entry.get("user_name"),  # type: ignore[arg-type]
            resource_type=entry.get("resource_type", "cluster"),
            resource=entry.get("resource", ""),
            role=role,  # type: ignore[arg-type]
        )
        await mgr.get_user(permission.user_name)
        await clusters.get_cluster(permission.resource)
        found.append(permission)
    return found


@routes.post(PREFIX + "/v1/permissions")
@openapi.spec(body=_PERMISSIONS_BODY, data={"type": "array", "items": _PERMISSION})
async def grant_permissions(request: web.Request) -> web.Response:
    """Grant users roles on clusters (admin only); a role replaces the user's earlier one there."""
    who = auth.require_admin(request)
    granted = []
    for p in await _permissions(request, with_role=True):
        granted.append(
            await common.manager(request).grant(
                p.user_name,
                resource_type=p.resource_type,
                resource=p.resource,
                role=p.role,
                created_by=who.name,
            )
        )
    return envelope.ok([p.to_wire() for p in granted])


@routes.delete(PREFIX + "/v1/permissions")
@openapi.spec(body=_PERMISSIONS_BODY)
async def revoke_permissions(request: web.Request) -> web.Response:
    """Revoke users' roles on clusters (admin only); 404, changing nothing, if one is not held."""
    auth.require_admin(request)
    mgr = common.manager(request)
    wanted = await _permissions(request, with_role=False)
    for p in wanted:
        await mgr.get_permission(p.user_name, resource_type=p.resource_type, resource=p.resource)
    for p in wanted:
        await mgr.revoke(p.user_name, resource_type=p.resource_type, resource=p.resource)
    return envelope.ok({"revoked": len(wanted)})


@routes.get(PREFIX + "/v1/permissions")
@openapi.spec(
    query={
        "user_name": "whose roles (default: the caller)",
        "resource_type": "cluster",
        "resource": "a cluster",
    },
    data={"type": "array", "items": _PERMISSION},
)
async def list_permissions(request: web.Request) -> web.Response:
    """Roles held, filtered by user_name, resource_type and resource (non-admins see their own).

    The filters are query parameters; upstream's JSON body form is accepted too.
    """
    filters: dict[str, Any] = dict(request.query)
    filters.update(await common.optional_object(request))
    common.known_fields(filters, ["user_name", "resource_type", "resource"])
    who = auth.principal(request)
    if not who.is_admin:
        filters["user_name"] = common.self_or_admin(request, filters.get("user_name") or who.name).name
    found = await common.manager(request).list_permissions(
        user_name=filters.get("user_name") or None,
        resource_type=filters.get("resource_type") or None,
        resource=filters.get("resource") or None,
    )
    return envelope.ok([p.to_wire() for p in found])


async def _verify(request: web.Request, *, cluster_key: str) -> web.Response:
    auth.require_admin(request)
    body = await common.object_body(request)
    token, resource_type, action = (str(body.get(k) or "") for k in ("user_token", "resource_type", "action"))
    if not all(isinstance(body.get(k), str) for k in ("user_token", "resource_type", "action")) or not all(
        (token, resource_type, action)
    ):
        raise errors.BadRequest("user_token, resource_type and action are required strings")
    verb = auth.verb_for_method(action) if action.upper() in _HTTP_ACTIONS else action.lower()
    mgr = common.manager(request)
    if resource_type != "cluster":  # module APIs (usermanager, clustermanager...): admins only
        try:
            who = await mgr.authenticate(token)
        except errors.Unauthorized as e:
            return envelope.ok({"allowed": False, "message": e.message})
        allowed = who.is_admin
        return envelope.ok({"allowed": allowed, "message": "allowed" if allowed else "admins only"})
    cluster_id = body.get(cluster_key)
    if not isinstance(cluster_id, str) or not cluster_id:
        raise errors.BadRequest(f"{cluster_key} (the cluster id) is required for resource_type cluster")
    allowed, message = await mgr.verify(token, cluster_id=cluster_id, verb=verb)
    return envelope.ok({"allowed": allowed, "message": message})


@routes.get(PREFIX + "/v1/permissions/verify")
@openapi.spec(body=_VERIFY_BODY, data=_VERIFY_DATA)
async def verify_v1(request: web.Request) -> web.Response:
    """Whether user_token may do action on resource (admin only; the gateway's question)."""
    return await _verify(request, cluster_key="resource")


@routes.get(PREFIX + "/v2/permissions/verify")
@openapi.spec(body=_VERIFY_BODY, data=_VERIFY_DATA)
async def verify_v2(request: web.Request) -> web.Response:
    """Whether user_token may do action on cluster_id (admin only; v2 body)."""
    return await _verify(request, cluster_key="cluster_id")


# -- register tokens and legacy cluster routes --------------------------------------------------------


def _register_wire(record: users.TokenRecord) -> dict[str, Any]:
    return {
        "cluster_id": record.cluster_id,
        "token_id": record.id,
        "created_by": record.created_by,
        "created_at": user_model.iso(record.created_at),
    }


@routes.post(PREFIX + "/v1/clusters/{cluster_id}/register_tokens")
@openapi.spec(
    data={"type": "object", "properties": {"token": {"type": "string"}, "cluster_id": {"type": "string"}}}
)
async def create_register_token(request: web.Request) -> web.Response:
    """A new register token for the cluster, replacing the old one; shown in this answer only."""
    who = auth.require_admin(request)
    cluster = await request.app[keys.CLUSTERS].get_cluster(request.match_info["cluster_id"])
    issued = await common.manager(request).create_register_token(cluster.clusterID, created_by=who.name)
    return envelope.ok({**_register_wire(issued.record), "token": issued.token})


@routes.get(PREFIX + "/v1/clusters/{cluster_id}/register_tokens")
async def get_register_token(request: web.Request) -> web.Response:
    """The cluster's register token, without its secret (admin only)."""
    auth.require_admin(request)
    found = await common.manager(request).register_tokens(request.match_info["cluster_id"])
    if not found:
        raise errors.NotFound(f"cluster {request.match_info['cluster_id']} has no register token")
    return envelope.ok(_register_wire(found[-1]))


@routes.put(PREFIX + "/v1/clusters/{cluster_id}/credentials")
@openapi.spec(
    body={
        "type": "object",
        "required": ["register_token", "server_addresses"],
        "properties": {
            "register_token": {"type": "string"},
            "server_addresses": {"type": "string"},
            "cacert_data": {"type": "string"},
            "user_token": {"type": "string"},
        },
    }
)
@auth.public
async def put_legacy_credential(request: web.Request) -> web.Response:
    """Report a cluster's apiserver credential; authenticated by the register_token in the body.

    The legacy agent form of clustermanager PUT /v1/clustercredential/{serverKey}.
    """
    cluster_id = request.match_info["cluster_id"]
    body = common.known_fields(
        await common.object_body(request), ["register_token", "server_addresses", "cacert_data", "user_token"]
    )
    token = body.get("register_token") or auth.bearer_token(request)
    if not isinstance(token, str) or not token:
        raise errors.Unauthorized("a register_token is required")
    who = await common.manager(request).authenticate(token)
    if not (who.is_admin or (who.is_register and who.cluster_id == cluster_id)):
        raise errors.Forbidden(f"this token may not register cluster {cluster_id}")
    fields = {k: body.get(k, "") for k in ("server_addresses", "cacert_data", "user_token")}
    if not all(isinstance(v, str) for v in fields.values()):
        raise errors.BadRequest("server_addresses, cacert_data and user_token must be strings")
    clusterjson.check_addresses(fields["server_addresses"])
    clusterjson.check_ca(fields["cacert_data"])
    await request.app[keys.CLUSTERS].put_credential(
        registry.Credential(
            serverKey=cluster_id,
            clusterID=cluster_id,
            serverAddress=fields["server_addresses"],
            caCertData=fields["cacert_data"],
            userToken=fields["user_token"],
            clientModule="kubeagent",
        )
    )
    return envelope.ok(None)


def _legacy_wire(credential: registry.Credential) -> dict[str, Any]:
    return {
        "cluster_id": credential.clusterID,
        "server_addresses": credential.serverAddress,
        "cacert_data": credential.caCertData,
        "user_token": credential.userToken,
        "cluster_domain": credential.clusterDomain,
    }


@routes.get(PREFIX + "/v1/clusters/credentials")
async def list_legacy_credentials(request: web.Request) -> web.Response:
    """Every cluster's credential in the legacy shape (admin only)."""
    auth.require_admin(request)
    found = await request.app[keys.CLUSTERS].list_credentials()
    return envelope.ok([_legacy_wire(c) for c in found])


@routes.get(PREFIX + "/v1/clusters/{cluster_id}/credentials")
async def get_legacy_credential(request: web.Request) -> web.Response:
    """A cluster's credential in the legacy shape (admin only)."""
    auth.require_admin(request)
    return envelope.ok(
        _legacy_wire(await request.app[keys.CLUSTERS].get_credential(request.match_info["cluster_id"]))
    )


@routes.post(PREFIX + "/v1/clusters")
@openapi.spec(
    body={
        "type": "object",
        "required": ["cluster_id", "cluster_type"],
        "properties": {"cluster_id": {"type": "string"}, "cluster_type": {"enum": ["k8s", "mesos", "tke"]}},
    }
)
async def create_cluster(request: web.Request) -> web.Response:
    """Register a cluster by id (the legacy form of clustermanager POST /v1/cluster; admin only)."""
    who = auth.require_admin(request)
    body = common.known_fields(
        await common.object_body(request),
        ["cluster_id", "cluster_type", "tke_cluster_id", "tke_cluster_region"],
    )
    cluster_id, cluster_type = body.get("cluster_id"), body.get("cluster_type")
    engines = {"k8s": "k8s", "tke": "k8s", "mesos": "mesos"}
    if not isinstance(cluster_id, str) or cluster_type not in engines:
        raise errors.BadRequest("cluster_id (string) and cluster_type (k8s, mesos or tke) are required")
    cluster = registry.Cluster(
        clusterID=cluster_id,
        clusterName=cluster_id,
        engineType=engines[cluster_type],
        environment=clusterjson.environment_of(cluster_id),
        extra={"creator": who.name, "clusterType": "single"},
    )
    added = await request.app[keys.CLUSTERS].add_cluster(cluster)
    return envelope.ok(
        {
            "id": added.clusterID,
            "cluster_type": cluster_type,
            "created_by": who.name,
            "created_at": added.createTime,
        }
    )
