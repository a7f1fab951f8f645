"""The middlewares of every request: request id, metrics, and the one error map.

Order (outermost first): :func:`request_id` → :func:`metrics` → :func:`errors_to_envelope` → the
auth middleware (:mod:`bcs.gateway.auth`), so the metrics see the status the client gets, every log
line of a request carries its id, and a refused token is rendered like any other error: the bk-bcs
envelope on ``/bcsapi/...``, a Kubernetes ``Status`` object on the cluster proxy paths.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bcs import envelope, errors, keys, logs

__all__ = ["KUBE_PATHS", "errors_to_envelope", "kube_status", "loggable_path", "metrics", "request_id"]

logger = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-Request-Id"
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@web.middleware
async def request_id(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Reuse a well-formed incoming ``X-Request-Id``, else make one; echo it on the response."""
    rid = request.headers.get(REQUEST_ID_HEADER, "")
    if not _GOOD_ID.match(rid):
        rid = secrets.token_hex(8)
    token = logs.REQUEST_ID.set(rid)
    try:
        try:
            response = await handler(request)
        except web.HTTPException as e:
            e.headers[REQUEST_ID_HEADER] = rid
            raise
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = rid
        return response
    finally:
        logs.REQUEST_ID.reset(token)


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "<unmatched>"


@web.middleware
async def metrics(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Count requests and time them, labelled by route template (never by raw path)."""
    m = request.app[keys.METRICS]
    route = _route_label(request)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        m.observe(method=request.method, route=route, status=status, seconds=time.perf_counter() - started)


# Kubernetes `Status.reason` per HTTP status; kubectl prints "Error from server (<reason>): <message>".
_KUBE_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    502: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
KUBE_PATHS = ("/clusters/", "/tunnels/clusters/")
_SECRET_VARS = frozenset({"token"})


def kube_status(status: int, message: str, *, reason: str | None = None) -> dict[str, Any]:
    """A Kubernetes ``Status`` object, the error body on the cluster proxy paths."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _KUBE_REASONS.get(status, "Unknown" if status < 500 else "InternalError"),
        "code": status,
    }


def loggable_path(request: web.Request) -> str:
    """The path, or its route template when a path variable is a secret (``/v1/tokens/{token}``).

    Upstream addresses tokens by value in some paths; every log line (the access log too) should
    name such a request by this instead of ``request.path``.
    """
    if any(name in _SECRET_VARS for name in request.match_info):
        resource = request.match_info.route.resource
        if resource is not None:
            return resource.canonical
    return request.path


def _error_response(
    request: web.Request,
    *,
    status: int,
    code: int,
    message: str,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
    reason: str | None = None,
    retry_after: float | None = None,
) -> web.Response:
    """The one error body: a Kubernetes ``Status`` under the proxy paths, else the bk-bcs envelope."""
    if request.path.startswith(KUBE_PATHS):
        body = kube_status(status, message, reason=reason)
    else:
        body = envelope.error_body(code, message, data)
    extra = dict(headers or {})
    if retry_after is not None:
        extra["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'Bearer realm="bcs"')
    return envelope.json_response(body, status=status, headers=extra or None)


@web.middleware
async def errors_to_envelope(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """The one place where exceptions become HTTP error responses (envelope or Kubernetes Status).

    A :class:`~bcs.errors.BcsError` may carry ``headers``, ``retry_after`` (seconds, sent as
    ``Retry-After``) and a Kubernetes ``reason``; all are optional attributes of the instance. Log
    lines name the route template, not the raw path, when the path holds a token.
    """
    try:
        return await handler(request)
    except errors.BcsError as e:
        if e.status >= 500:
            logger.warning("%s %s: %s", request.method, loggable_path(request), e.message)
        return _error_response(
            request,
            status=e.status,
            code=e.code,
            message=e.message,
            data=e.data,
            headers=getattr(e, "headers", None),
            reason=getattr(e, "reason", None),
            retry_after=getattr(e, "retry_after", None),
        )
    except web.HTTPException as e:
        if e.status < 400:
            raise
        message = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        if e.status == 404:
            message = f"no route for {request.method} {request.path}"
        headers = {k: v for k, v in e.headers.items() if k.lower() in ("allow", "x-request-id")}
        return _error_response(
            request,
            status=e.status,
            code=errors.ADDITION_ERROR_CODE + e.status,
            message=message,
            headers=headers,
        )
    except Exception:
        logger.exception("unhandled error serving %s %s", request.method, loggable_path(request))
        return _error_response(
            request,
            status=500,
            code=errors.ADDITION_ERROR_CODE,
            message=f"internal error (request {logs.REQUEST_ID.get()})",
        )
