"""Which Kubernetes verb a proxied request is, as the apiserver's request-info parser decides it.

``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``, ``delete`` or ``deletecollection``; the
gateway authorizes the bcs token for that verb on the cluster before anything reaches the apiserver.
Paths outside ``/api`` and ``/apis`` (``/version``, ``/openapi/v3``...) map by method alone.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["READ_VERBS", "STREAMING_SUBRESOURCES", "kube_verb", "streams"]

READ_VERBS = frozenset({"get", "list", "watch"})
# Subresources that upgrade to a WebSocket and run something in the cluster: writes, whatever the method.
STREAMING_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_BY_METHOD = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_TRUE = frozenset({"true", "True", "1"})


def _resource_parts(path: str) -> tuple[list[str], bool] | None:
    """``[resource, name, subresource...]`` after api group/version and namespace; and the watch prefix.

    None for non-resource paths (discovery, version, openapi).
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        rest = parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        rest = parts[3:]
    else:
        return None
    watching = rest[0] == "watch"
    if watching:
        rest = rest[1:]
    if len(rest) > 2 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        rest = rest[2:]  # namespaced resource; "namespaces/x" and "namespaces/x/status" are the namespace
    return rest, watching


def kube_verb(method: str, path: str, query: Mapping[str, str]) -> str:
    """The verb of ``method path?query``; unknown methods count as ``create`` (a write)."""
    method = method.upper()
    info = _resource_parts(path)
    if info is None:
        return _BY_METHOD.get(method, "create")
    rest, watching = info
    collection = len(rest) <= 1
    if len(rest) >= 3 and rest[2] in STREAMING_SUBRESOURCES:
        return "create"  # exec/attach/port-forward run code: a write even over GET (KEP-4006)
    if method in ("GET", "HEAD"):
        if watching or query.get("watch", "") in _TRUE:
            return "watch"
        return "list" if collection else "get"
    if method == "DELETE" and collection:
        return "deletecollection"
    return _BY_METHOD.get(method, "create")


def streams(verb: str, query: Mapping[str, str]) -> bool:
    """Whether the response may stay open indefinitely (watch, ``logs -f``): no read timeout then."""
    return verb == "watch" or query.get("follow", "") in _TRUE
