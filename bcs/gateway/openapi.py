"""An OpenAPI 3 document of every ``/bcsapi/v4`` route, built from the application's router.

Nothing is listed by hand: the document walks ``app.router`` when it is asked for, so routes added
by the storage service or by plugins appear without anyone remembering to document them. Each
operation takes its summary and description from the handler's docstring; a handler may add its
query parameters and body/data schemas with :func:`spec`. Served at ``/bcsapi/v4/openapi.json``
without a token (it describes the API; it holds nothing secret).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import hdrs, web

import bcs
from bcs import envelope
from bcs.gateway import auth

__all__ = ["PREFIX", "build_document", "operations", "routes", "spec"]

H = TypeVar("H", bound=Callable[..., Any])

PREFIX = "/bcsapi/v4"
_SPEC_ATTR = "__bcs_openapi__"
_ANY_METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"\{([^}:]+)\}")
routes = web.RouteTableDef()


def spec(
    *,
    query: Mapping[str, str] | None = None,
    body: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> Callable[[H], H]:
    """Describe a handler: ``query`` maps parameter names to descriptions; ``body`` and ``data``
    are JSON schemas of the request body and of the envelope's ``data``."""

    def mark(handler: H) -> H:
        setattr(handler, _SPEC_ATTR, {"query": dict(query or {}), "body": body, "data": data})
        return handler

    return mark


def operations(app: web.Application) -> list[tuple[str, str, Any]]:
    """Every ``(path template, lower-case method, handler)`` under :data:`PREFIX`.

    The HEAD twin aiohttp adds to each GET is left out; a ``*`` route counts once per method.
    """
    found: list[tuple[str, str, Any]] = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or not resource.canonical.startswith(PREFIX):
            continue
        method = route.method.lower()
        if method == "head":
            continue
        methods = _ANY_METHODS if route.method == hdrs.METH_ANY else (method,)
        found.extend((resource.canonical, m, route.handler) for m in methods)
    return found


def _operation(path: str, method: str, handler: Any, used_ids: set[str]) -> dict[str, Any]:
    doc = inspect.getdoc(handler) or ""
    summary, _, description = doc.partition("\n")
    extra = getattr(handler, _SPEC_ATTR, None) or {"query": {}, "body": None, "data": None}
    name = getattr(handler, "__name__", type(handler).__name__)
    op_id = f"{method}_{name}"
    while op_id in used_ids:
        op_id += "_"
    used_ids.add(op_id)
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in _PARAM.findall(path)
    ]
    parameters += [
        {"name": q, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
        for q, text in extra["query"].items()
    ]
    data_schema = extra["data"] or {}
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary.strip() or f"{method.upper()} {path}",
        "tags": [path[len(PREFIX) :].strip("/").split("/")[0] or "bcs"],
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "success, in the bk-bcs envelope",
                "content": {
                    "application/json": {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Envelope"},
                                {"type": "object", "properties": {"data": data_schema}},
                            ]
                        }
                    }
                },
            },
            "default": {
                "description": "an error, in the envelope with result false",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}},
            },
        },
    }
    if description.strip():
        operation["description"] = description.strip()
    if extra["body"] is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": extra["body"]}},
        }
    if auth.is_public(handler):
        operation["security"] = []
    return operation


def build_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``app``'s ``/bcsapi/v4`` routes."""
    paths: dict[str, dict[str, Any]] = {}
    used_ids: set[str] = set()
    for path, method, handler in sorted(operations(app), key=lambda o: (o[0], o[1])):
        paths.setdefault(path, {})[method] = _operation(path, method, handler, used_ids)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "bcs API",
            "version": bcs.__version__,
            "description": "Module APIs of the bcs gateway. Every answer is the bk-bcs envelope "
            '{"result", "code", "message", "data"}; send "Authorization: Bearer <token>".',
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Envelope": {
                    "type": "object",
                    "required": ["result", "code", "message", "data"],
                    "properties": {
                        "result": {"type": "boolean", "description": "code == 0"},
                        "code": {"type": "integer", "description": "0, or 1405000 + a reason"},
                        "message": {"type": "string"},
                        "data": {"nullable": True},
                    },
                }
            },
        },
        "security": [{"bearer": []}],
    }


@routes.get(PREFIX + "/openapi.json")
@auth.public
async def openapi_document(request: web.Request) -> web.Response:
    """This document: an OpenAPI 3 description of every /bcsapi/v4 route."""
    return envelope.json_response(build_document(request.app))
