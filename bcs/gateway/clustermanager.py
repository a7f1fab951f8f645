"""Cluster manager routes under ``/bcsapi/v4/clustermanager/v1`` (upstream bcs-cluster-manager, §2.2).

Clusters (create with id allocation by engine and environment, get, update, delete, list with the
upstream filters), cluster credentials (get, put, delete, list by ``connectMode``), ``health``, and
``clusters/{clusterID}/kubeconfig`` (beyond upstream, as Rancher does): a kubeconfig that reaches the
cluster through this gateway with the caller's own token. Everything lives in the cluster registry
on the KV port. Admins change clusters; other users see the clusters they hold a role on, with
credential tokens masked; a cluster's register token may put that cluster's credential only.
"""

from __future__ import annotations

import contextlib
from typing import Any

import attrs
from aiohttp import web

from bcs import envelope, errors, keys
from bcs.core import registry
from bcs.gateway import auth, clusterjson, kubeconfig, openapi

__all__ = ["PREFIX", "routes"]

PREFIX = "/bcsapi/v4/clustermanager/v1"
routes = web.RouteTableDef()

_CLUSTER = {
    "type": "object",
    "properties": {
        "clusterID": {"type": "string", "description": "BCS-K8S-<n>; allocated when absent"},
        "clusterName": {"type": "string"},
        "engineType": {"enum": ["k8s", "mesos"]},
        "environment": {"enum": ["stag", "debug", "prod"]},
        "provider": {"type": "string"},
        "status": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": True,
}
_CREDENTIAL = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in clusterjson.CREDENTIAL_FIELDS},
}
_LIST_QUERY = {
    **{name: f"only clusters whose {name} equals this" for name in clusterjson.LIST_FILTERS},
    "offset": "skip this many clusters",
    "limit": "return at most this many (0 = all)",
    "all": "true to include clusters in status DELETED",
    "operator": "accepted for compatibility; ignored",
}


def _clusters(request: web.Request) -> registry.ClusterRegistry:
    return request.app[keys.CLUSTERS]


# -- clusters ---------------------------------------------------------------------------------------


@routes.post(PREFIX + "/cluster")
@openapi.spec(body=_CLUSTER, data=_CLUSTER)
async def create_cluster(request: web.Request) -> web.Response:
    """Register a cluster (admin only); without clusterID the next id of its engine and environment.

    Ids are max(existing, every id ever handed out) + 1 within the upstream range, never reused.
    """
    who = auth.require_admin(request)
    modeled, extra = clusterjson.cluster_body(await envelope.read_json(request), creating=True)
    extra.setdefault("creator", who.name)
    engine = modeled.setdefault("engineType", "k8s")
    environment = modeled.setdefault("environment", "prod")
    if (engine, environment) not in registry.ID_RANGES:
        raise errors.BadRequest(
            f"no cluster id range for engineType {engine!r} and environment {environment!r}"
            f" (engines: {', '.join(registry.ENGINES)}; environments: {', '.join(registry.ENVIRONMENTS)})"
        )
    wanted = modeled.pop("clusterID", "")
    # Validate everything with a stand-in id first: a bad body must not use up an id.
    low, _ = registry.ID_RANGES[(engine, environment)]
    cluster = _build(wanted or registry.cluster_id(engine, low), modeled, extra)
    if not wanted:
        new_id = await _clusters(request).allocate_id(engine, environment)
        cluster = attrs.evolve(cluster, clusterID=new_id, clusterName=cluster.clusterName or new_id)
    added = await _clusters(request).add_cluster(cluster)
    return envelope.ok(clusterjson.to_wire(added), task=None)


def _build(cluster_id: str, modeled: dict[str, Any], extra: dict[str, Any]) -> registry.Cluster:
    try:
        return registry.Cluster(clusterID=cluster_id, **modeled, extra=extra)
    except (TypeError, ValueError) as e:
        raise errors.BadRequest(f"invalid cluster: {e.args[0] if e.args else e}") from None


@routes.get(PREFIX + "/cluster/{clusterID}")
@openapi.spec(data=_CLUSTER)
async def get_cluster(request: web.Request) -> web.Response:
    """One cluster (admins, and users with a role on it)."""
    return envelope.ok(
        clusterjson.to_wire(await _clusters(request).get_cluster(request.match_info["clusterID"]))
    )


@routes.put(PREFIX + "/cluster/{clusterID}")
@openapi.spec(body=_CLUSTER, data=_CLUSTER)
async def update_cluster(request: web.Request) -> web.Response:
    """Change fields of a cluster (admin only); clusterID, createTime and updateTime are fixed."""
    who = auth.require_admin(request)
    cluster_id = request.match_info["clusterID"]
    modeled, extra = clusterjson.cluster_body(await envelope.read_json(request), creating=False)
    if modeled.pop("clusterID", cluster_id) != cluster_id:
        raise errors.BadRequest(f"the body's clusterID differs from the path's {cluster_id}")
    extra.setdefault("updater", who.name)
    current = await _clusters(request).get_cluster(cluster_id)
    changes = {**modeled, "extra": {**current.extra, **extra}}
    updated = await _clusters(request).update_cluster(cluster_id, changes)
    return envelope.ok(clusterjson.to_wire(updated))


@routes.delete(PREFIX + "/cluster/{clusterID}")
@openapi.spec(query={"isForced": "accepted for compatibility", "onlyDeleteInfo": "accepted"}, data=_CLUSTER)
async def delete_cluster(request: web.Request) -> web.Response:
    """Remove a cluster, its credentials, its register token and every role on it (admin only).

    Its id is never handed out again.
    """
    auth.require_admin(request)
    cluster_id = request.match_info["clusterID"]
    removed = await _clusters(request).delete_cluster(cluster_id)
    await request.app[keys.USERS].forget_cluster(cluster_id)
    return envelope.ok(clusterjson.to_wire(removed))


@routes.get(PREFIX + "/cluster")
@openapi.spec(query=_LIST_QUERY, data={"type": "array", "items": _CLUSTER})
async def list_clusters(request: web.Request) -> web.Response:
    """Clusters matching the filters, sorted by id; non-admins see those they hold a role on."""
    query = dict(request.query)
    unknown = set(query) - set(clusterjson.LIST_FILTERS) - {"offset", "limit", "all", "operator"}
    if unknown:
        raise errors.BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    offset, limit = clusterjson.paging(query)
    include_deleted = query.pop("all", "false").lower()
    if include_deleted not in ("true", "false", "1", "0", ""):
        raise errors.BadRequest(f"parameter all must be true or false, got {include_deleted!r}")
    filters = {k: v for k, v in query.items() if k in clusterjson.LIST_FILTERS}
    found = []
    for cluster in await _clusters(request).list_clusters():
        wire = clusterjson.to_wire(cluster)
        if cluster.status == "DELETED" and include_deleted not in ("true", "1"):
            continue
        if clusterjson.matches(wire, filters) and await auth.can(
            request, cluster_id=cluster.clusterID, verb="list"
        ):
            found.append(wire)
    page = found[offset : offset + limit] if limit else found[offset:]
    return envelope.ok(page, total=len(found), offset=offset, limit=limit)


@routes.get(PREFIX + "/clusters/{clusterID}/kubeconfig")
@openapi.spec(
    query={"format": "yaml: answer the kubeconfig itself (as does Accept: application/yaml)"},
    data={"type": "object", "properties": {"server": {"type": "string"}, "kubeconfig": {"type": "string"}}},
)
async def get_kubeconfig(request: web.Request) -> web.Response:
    """A kubeconfig reaching the cluster through this gateway with the caller's own token.

    Its server is https://<this gateway>/clusters/<clusterID>; it embeds the gateway's CA when the
    gateway generated one. kubectl then works unchanged, limited by the caller's role.
    """
    who = auth.principal(request)
    cluster = await _clusters(request).get_cluster(request.match_info["clusterID"])
    token = auth.bearer_token(request) or ""
    document = kubeconfig.build(
        cluster_id=cluster.clusterID,
        server=kubeconfig.server_url(request, cluster.clusterID),
        token=token,
        user=who.name,
        ca_pem=request.app.get(keys.GATEWAY_CA_PEM, ""),
    )
    if request.query.get("format") == "yaml" or "yaml" in request.headers.get("Accept", ""):
        return web.Response(text=document, content_type="application/yaml")
    return envelope.ok(
        {
            "clusterID": cluster.clusterID,
            "server": kubeconfig.server_url(request, cluster.clusterID),
            "kubeconfig": document,
        }
    )


@routes.get(PREFIX + "/health")
async def health(request: web.Request) -> web.Response:
    """The cluster manager answers and its KV port (the registry's store) is reachable."""
    await request.app[keys.KV].ping()
    return envelope.ok({"status": "ok"})


# -- credentials ------------------------------------------------------------------------------------


async def _readable(request: web.Request, cluster_id: str) -> bool:
    """Whether the caller may see this cluster's credential (tokens are shown to admins only)."""
    return auth.principal(request).is_admin or await auth.can(request, cluster_id=cluster_id, verb="get")


@routes.get(PREFIX + "/clustercredential/{serverKey}")
@openapi.spec(data=_CREDENTIAL)
async def get_credential(request: web.Request) -> web.Response:
    """How the gateway reaches a cluster; userToken is masked unless the caller is an admin."""
    credential = await _clusters(request).get_credential(request.match_info["serverKey"])
    if not await _readable(request, credential.clusterID):
        raise errors.Forbidden(
            f"user {auth.principal(request).name} may not read cluster {credential.clusterID}"
        )
    return envelope.ok(clusterjson.credential_wire(credential, secrets=auth.principal(request).is_admin))


@routes.put(PREFIX + "/clustercredential/{serverKey}")
@openapi.spec(body=_CREDENTIAL, data=_CREDENTIAL)
async def put_credential(request: web.Request) -> web.Response:
    """Create or replace a credential: what the kube agent reports every period.

    Admins may put any credential (an unknown cluster is then registered with it); a cluster's
    register token may put the credential of that cluster only.
    """
    server_key = request.match_info["serverKey"]
    body = clusterjson.object_body(await envelope.read_json(request), what="the credential")
    unknown = set(body) - set(clusterjson.CREDENTIAL_FIELDS)
    if unknown:
        raise errors.BadRequest(f"unknown credential field(s): {', '.join(sorted(unknown))}")
    if not all(isinstance(v, str) for v in body.values()):
        raise errors.BadRequest("credential fields must be strings")
    if body.get("serverKey", server_key) != server_key:
        raise errors.BadRequest(f"the body's serverKey differs from the path's {server_key}")
    cluster_id = body.get("clusterID") or server_key
    registry.parse_cluster_id(cluster_id)
    if body.get("clientCert") or body.get("clientKey"):
        raise errors.BadRequest("client certificates are not supported: report a userToken")
    clusterjson.check_addresses(body.get("serverAddress", ""))
    clusterjson.check_ca(body.get("caCertData", ""))
    fields = {k: v for k, v in body.items() if k not in ("serverKey", "clusterID", "clientCert", "clientKey")}
    try:
        credential = registry.Credential(serverKey=server_key, clusterID=cluster_id, **fields)
    except (TypeError, ValueError) as e:
        raise errors.BadRequest(f"invalid credential: {e.args[0] if e.args else e}") from None
    who = auth.principal(request)
    if who.is_register:
        if who.cluster_id != cluster_id or not (
            server_key == cluster_id or server_key.startswith(cluster_id + "-")
        ):
            raise errors.Forbidden(f"this register token may only report cluster {who.cluster_id}")
    elif not who.is_admin:
        raise errors.Forbidden(f"user {who.name} may not report cluster credentials")
    try:
        stored = await _clusters(request).put_credential(credential)
    except errors.ClusterNotFound:
        if not who.is_admin:
            raise
        await _register_reported(request, credential, creator=who.name)
        stored = await _clusters(request).put_credential(credential)
    return envelope.ok(clusterjson.credential_wire(stored, secrets=False))


async def _register_reported(request: web.Request, credential: registry.Credential, *, creator: str) -> None:
    """Register the unknown cluster an admin reports a credential for (the agent-first flow)."""
    engine, _ = registry.parse_cluster_id(credential.clusterID)
    cluster = registry.Cluster(
        clusterID=credential.clusterID,
        clusterName=credential.clusterID,
        engineType=engine,
        environment=clusterjson.environment_of(credential.clusterID),
        extra={"creator": creator, "source": credential.clientModule or "credential"},
    )
    with contextlib.suppress(errors.Conflict):  # registered concurrently: fine
        await _clusters(request).add_cluster(cluster)


@routes.delete(PREFIX + "/clustercredential/{serverKey}")
async def delete_credential(request: web.Request) -> web.Response:
    """Forget a credential (admin only); the cluster is unreachable until it is reported again."""
    auth.require_admin(request)
    await _clusters(request).delete_credential(request.match_info["serverKey"])
    return envelope.ok(None)


@routes.get(PREFIX + "/clustercredential")
@openapi.spec(
    query={
        "serverKey": "only this server key",
        "clusterID": "only this cluster's",
        "connectMode": "direct or tunnel",
        "offset": "skip this many",
        "limit": "at most this many (0 = all)",
    },
    data={"type": "array", "items": _CREDENTIAL},
)
async def list_credentials(request: web.Request) -> web.Response:
    """Credentials matching the filters; userToken is masked unless the caller is an admin."""
    query = dict(request.query)
    filters = {k: query.pop(k) for k in ("serverKey", "clusterID", "connectMode") if k in query}
    offset, limit = clusterjson.paging(query)
    unknown = set(query) - {"offset", "limit"}
    if unknown:
        raise errors.BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    if filters.get("connectMode", "direct") not in registry.CONNECT_MODES:
        raise errors.BadRequest(f"connectMode must be one of {', '.join(registry.CONNECT_MODES)}")
    admin = auth.principal(request).is_admin
    found = [
        clusterjson.credential_wire(c, secrets=admin)
        for c in await _clusters(request).list_credentials(filters)
        if admin or await _readable(request, c.clusterID)
    ]
    page = found[offset : offset + limit] if limit else found[offset:]
    return envelope.ok(page, total=len(found), offset=offset, limit=limit)
