"""Kubernetes ``Status`` bodies and the exception that carries one to the HTTP layer.

Messages follow the apiserver's canonical forms because kubectl prints them verbatim.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "gone",
    "invalid",
    "method_not_allowed",
    "not_found",
    "qualified",
    "status_body",
    "success",
    "unauthorized",
    "unsupported_media",
]


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure ``Status`` as the apiserver renders it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if not reason:  # errors the apiserver does not classify carry no reason
        del body["reason"]
    if details:
        body["details"] = details
    return body


def success(*, name: str, group: str, kind: str, uid: str = "") -> dict[str, Any]:
    """The ``Status`` a DELETE may answer with once the object is gone."""
    details: dict[str, Any] = {"name": name, "group": group, "kind": kind}
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


class ApiError(Exception):
    """Raised anywhere below the HTTP layer; the server turns it into a ``Status`` response."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.details)


def qualified(plural: str, group: str) -> str:
    """``deployments.apps`` or ``pods``: how messages name a resource."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    details = {"name": name, "group": group, "kind": plural}
    return ApiError(404, "NotFound", f'{qualified(plural, group)} "{name}" not found', details)


def already_exists(plural: str, group: str, name: str) -> ApiError:
    details = {"name": name, "group": group, "kind": plural}
    return ApiError(409, "AlreadyExists", f'{qualified(plural, group)} "{name}" already exists', details)


def conflict(plural: str, group: str, name: str, why: str = "") -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    details = {"name": name, "group": group, "kind": plural}
    message = f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}'
    return ApiError(409, "Conflict", message, details)


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 with ``causes`` given as (reason, field, message) triples, e.g. ("FieldValueRequired", ...)."""
    lines = list(dict.fromkeys(f"{field}: {msg}" for _, field, msg in causes))  # the aggregate dedupes
    text = lines[0] if len(lines) == 1 else "[" + ", ".join(lines) + "]"
    details = {
        "name": name,
        "group": group,
        "kind": kind,
        "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes],
    }
    return ApiError(
        422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {text}', details
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(403, "Forbidden", message, details)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_allowed(verb: str) -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({verb})"
    )


def unsupported_media(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def expired(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def gone(message: str) -> ApiError:
    return ApiError(410, "Gone", message)
