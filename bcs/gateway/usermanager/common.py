"""What the user manager's handlers share: the route prefix, bodies, the caller checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from bcs import envelope, errors, keys
from bcs.core import users
from bcs.gateway import auth, clusterjson

__all__ = ["PREFIX", "known_fields", "manager", "object_body", "optional_object", "self_or_admin"]

PREFIX = "/bcsapi/v4/usermanager"


def manager(request: web.Request) -> users.UserManager:
    return request.app[keys.USERS]


async def object_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; BadRequest when it is missing or not an object."""
    return clusterjson.object_body(await envelope.read_json(request), what="the request body")


async def optional_object(request: web.Request) -> dict[str, Any]:
    """The JSON object body, or {} when there is none."""
    if not await request.read():
        return {}
    return await object_body(request)


def known_fields(body: dict[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    unknown = set(body) - set(allowed)
    if unknown:
        raise errors.BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    return body


def self_or_admin(request: web.Request, user_name: str) -> users.Principal:
    """The caller, if it is an admin or the user ``user_name`` itself; else Forbidden."""
    who = auth.principal(request)
    if not (who.is_admin or (not who.is_register and who.name == user_name)):
        raise errors.Forbidden(f"user {who.name} may not manage user {user_name}")
    return who
