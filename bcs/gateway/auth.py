"""The auth middleware: who is calling (:func:`principal`) and may they (:func:`authorize`).

Every route needs a bearer token except the configured ``[auth] public_paths`` and handlers marked
with :func:`public` (they check a credential of their own, or serve nothing secret). A request for a
path that matches no route is answered 404/405 as it is, without a token. On a route whose path
names a cluster (a ``{clusterId}``-like variable, or the ``BCS-ClusterID`` header of the Mesos
routes) a non-admin caller must also hold a role on that cluster for the verb the HTTP method
implies, so module APIs (storage...) are scoped per cluster without each handler repeating it. A
handler whose method misleads (a query sent as POST) says what it is by carrying an attribute
``__bcs_verb__ = "list"``: a plain attribute, so handlers of lower layers need not import this one.

Tokens are read from ``Authorization: Bearer <token>``, or, for WebSocket upgrades from clients
that cannot set headers, from the Kubernetes ``base64url.bearer.authorization.k8s.io.<token>``
sub-protocol. A token is never logged, echoed or put into an error message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import TypeVar

from aiohttp import web

from bcs import errors, keys
from bcs.core import users

__all__ = [
    "PRINCIPAL",
    "VERB_ATTR",
    "authenticate",
    "authorize",
    "bearer_token",
    "can",
    "cluster_of",
    "is_public",
    "principal",
    "public",
    "require_admin",
    "users_ctx",
    "verb_for_method",
]

H = TypeVar("H")

PRINCIPAL: web.RequestKey[users.Principal] = web.RequestKey("bcs_principal", users.Principal)
WS_BEARER_PREFIX = "base64url.bearer.authorization.k8s.io."
_PUBLIC_ATTR = "__bcs_public__"
VERB_ATTR = "__bcs_verb__"
_CLUSTER_VARS = ("clusterid", "cluster_id")
# routed by BCS-ClusterID (Mesos; /mesosdriver/ is the driver API a gateway forwards to)
_HEADER_CLUSTER_PATHS = ("/bcsapi/v4/scheduler/", "/bcsapi/v1/", "/mesosdriver/")
_METHOD_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "OPTIONS": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def public(handler: H) -> H:
    """Mark a handler as served without a bearer token (it authenticates by other means, or not)."""
    setattr(handler, _PUBLIC_ATTR, True)
    return handler


def is_public(handler: object) -> bool:
    """Whether :func:`public` marked ``handler``."""
    return bool(getattr(handler, _PUBLIC_ATTR, False))


def verb_for_method(method: str) -> str:
    """The Kubernetes verb an HTTP method implies (GET → get, POST → create, PUT → update...)."""
    return _METHOD_VERBS.get(method.upper(), method.lower())


def bearer_token(request: web.Request) -> str | None:
    """The caller's token, or None when the request carries none."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for header in request.headers.getall("Sec-WebSocket-Protocol", ()):
        for proto in header.split(","):
            proto = proto.strip()
            if proto.startswith(WS_BEARER_PREFIX):
                encoded = proto[len(WS_BEARER_PREFIX) :]
                try:
                    token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
                except (binascii.Error, UnicodeDecodeError):
                    return None
                return token or None
    return None


def principal(request: web.Request) -> users.Principal:
    """Who is calling, as the middleware established it; Unauthorized on a public route."""
    found = request.get(PRINCIPAL)
    if found is None:
        raise errors.Unauthorized("this request is not authenticated")
    return found


async def can(request: web.Request, *, cluster_id: str, verb: str) -> bool:
    """Whether the caller may use Kubernetes ``verb`` on cluster ``cluster_id``."""
    return await request.app[keys.USERS].allowed(principal(request), cluster_id=cluster_id, verb=verb)


async def authorize(request: web.Request, *, cluster_id: str, verb: str) -> None:
    """Raise Forbidden unless the caller may use ``verb`` on ``cluster_id`` (admins may do all).

    ``verb`` is a Kubernetes verb: ``get``, ``list`` and ``watch`` need the ``viewer`` role, any other
    verb (``create``, ``update``, ``patch``, ``delete``, ``deletecollection``...) needs ``manager``.
    """
    if not await can(request, cluster_id=cluster_id, verb=verb):
        who = principal(request)
        raise errors.Forbidden(f"user {who.name} may not {verb} in cluster {cluster_id}")


def require_admin(request: web.Request) -> users.Principal:
    """The caller, if it is an admin (admin or saas user); else Forbidden."""
    who = principal(request)
    if not who.is_admin:
        raise errors.Forbidden(f"user {who.name} is not an administrator")
    return who


def cluster_of(request: web.Request) -> str | None:
    """The cluster the matched route addresses, if its path (or Mesos header) names one."""
    for name, value in request.match_info.items():
        if name.lower() in _CLUSTER_VARS and value:
            return value
    if request.path.startswith(_HEADER_CLUSTER_PATHS):
        return request.headers.get("BCS-ClusterID") or None
    return None


def _public_request(request: web.Request, public_paths: tuple[str, ...]) -> bool:
    path = request.path
    for entry in public_paths:
        if path == entry or (entry.endswith("*") and path.startswith(entry[:-1])):
            return True
    return is_public(request.match_info.handler)


@web.middleware
async def authenticate(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Authenticate every routed request, and authorize it on the cluster its path names."""
    if request.match_info.http_exception is not None:
        return await handler(request)  # no such route: 404/405 need no token
    if _public_request(request, request.app[keys.SETTINGS].auth.public_paths):
        return await handler(request)
    token = bearer_token(request)
    if token is None:
        raise errors.Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    request[PRINCIPAL] = who = await request.app[keys.USERS].authenticate(token)
    cluster_id = cluster_of(request)
    if cluster_id is not None and not who.is_admin:
        verb = getattr(request.match_info.handler, VERB_ATTR, None) or verb_for_method(request.method)
        await authorize(request, cluster_id=cluster_id, verb=verb)
    return await handler(request)


async def users_ctx(app: web.Application) -> AsyncIterator[None]:
    """Mirror the users subtree of the KV port while the application runs (after the KV port)."""
    manager = app[keys.USERS]
    manager.start()
    yield
    await manager.close()
