"""The bk-bcs response envelope ``{"result", "code", "message", "data"}`` and JSON request bodies.

Used by every module API under ``/bcsapi/v4/``; lives at the top level so the storage service and
the gateway share it without importing each other.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from bcs import errors

__all__ = ["error_body", "json_response", "ok", "read_json"]


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def ok(data: Any = None, *, message: str = "success", **extra: Any) -> web.Response:
    """A success envelope; ``extra`` keys (``total``, ``offset``...) sit beside ``data`` as upstream."""
    return json_response({"result": True, "code": 0, "message": message, "data": data, **extra})


def error_body(code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"result": False, "code": code, "message": message, "data": data}


async def read_json(request: web.Request, *, what: str = "request body") -> Any:
    """The parsed JSON body; a body that is not JSON is a BadRequest (code 1405080)."""
    raw = await request.read()
    if not raw:
        raise errors.BadRequest(f"{what} is empty; a JSON document is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise errors.BadRequest(f"{what} is not JSON: {e}") from None
