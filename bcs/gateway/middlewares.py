"""The middlewares of every request: request id, metrics, and the one error map.

Order (outermost first): :func:`request_id` → :func:`metrics` → :func:`errors_to_envelope`, so the
metrics see the status the client gets and every log line of a request carries its id.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from aiohttp import web

from bcs import envelope, errors, keys, logs

__all__ = ["errors_to_envelope", "metrics", "request_id"]

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


@web.middleware
async def errors_to_envelope(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """The one place where exceptions become HTTP responses in the bk-bcs envelope."""
    try:
        return await handler(request)
    except errors.BcsError as e:
        if e.status >= 500:
            logger.warning("%s %s: %s", request.method, request.path, e.message)
        body = envelope.error_body(e.code, e.message, e.data)
        return envelope.json_response(body, status=e.status)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        message = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        if e.status == 404:
            message = f"no route for {request.method} {request.path}"
        body = envelope.error_body(errors.ADDITION_ERROR_CODE + e.status, message)
        headers = {k: v for k, v in e.headers.items() if k.lower() in ("allow", "x-request-id")}
        return envelope.json_response(body, status=e.status, headers=headers)
    except Exception:
        logger.exception("unhandled error serving %s %s", request.method, request.path)
        body = envelope.error_body(
            errors.ADDITION_ERROR_CODE, f"internal error (request {logs.REQUEST_ID.get()})"
        )
        return envelope.json_response(body, status=500)
