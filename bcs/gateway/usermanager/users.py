"""Users (admin, saas, plain) and their tokens: ``/v1/users/...`` and ``/v1/tokens...``.

Listings show token ids, never secrets; the paths that upstream addresses by ``{token}`` accept the
token id (or the whole token, which is then checked like a login).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bcs import envelope, errors
from bcs.core import users
from bcs.core.users import model as user_model
from bcs.core.users import tokens as user_tokens
from bcs.gateway import auth, openapi
from bcs.gateway.usermanager import common

__all__ = ["routes"]

PREFIX = common.PREFIX
KIND = "{kind:admin|saas|plain}"
routes = web.RouteTableDef()

_USER_DATA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "user_type": {"type": "integer", "description": "1 admin, 2 saas, 3 plain"},
        "user_token": {"type": "string", "description": "only when a token was just issued"},
        "expires_at": {"type": "string", "nullable": True},
    },
}
_TOKEN_DATA = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "description": "only in the answer that creates it"},
        "token_id": {"type": "string"},
        "expired_at": {"type": "string", "nullable": True, "description": "null = never"},
    },
}
_EXPIRATION = {"type": "integer", "description": "seconds; -1 = never; at most 1000 days"}


def _issued_wire(issued: users.IssuedToken) -> dict[str, Any]:
    return {
        "token": issued.token,
        "token_id": issued.record.id,
        "expired_at": user_model.iso(issued.record.expires_at),
    }


# -- users ------------------------------------------------------------------------------------------


@routes.get(PREFIX + "/v1/users/info")
@openapi.spec(data={"type": "object"})
async def user_info(request: web.Request) -> web.Response:
    """Who the caller is: user name, kind, user_type and the id of the token used."""
    return envelope.ok(auth.principal(request).to_wire())


# Registered before /v1/users/{kind}/{name}, which would otherwise take ".../<kind>/tokens".
@routes.get(PREFIX + "/v1/users/{username}/tokens")
@openapi.spec(data={"type": "array", "items": _TOKEN_DATA})
async def list_tokens(request: web.Request) -> web.Response:
    """The tokens of a user, without secrets (admin, or the user itself)."""
    name = request.match_info["username"]
    common.self_or_admin(request, name)
    await common.manager(request).get_user(name)
    now = common.manager(request).clock()
    return envelope.ok([r.to_wire(now=now) for r in await common.manager(request).list_tokens(name)])


@routes.post(PREFIX + f"/v1/users/{KIND}/{{user_name}}")
@openapi.spec(body={"type": "object", "properties": {"expiration": _EXPIRATION}}, data=_USER_DATA)
async def create_user(request: web.Request) -> web.Response:
    """Create a user and its first token, returned once as user_token (admin only).

    Plain users' tokens last a day unless the optional body says {"expiration": seconds}.
    """
    who = auth.require_admin(request)
    body = common.known_fields(await common.optional_object(request), ["expiration"])
    user, issued = await common.manager(request).create_user(
        request.match_info["user_name"],
        kind=request.match_info["kind"],
        created_by=who.name,
        expiration=body.get("expiration"),
    )
    return envelope.ok({**user.to_wire(expires_at=issued.record.expires_at), "user_token": issued.token})


@routes.get(PREFIX + f"/v1/users/{KIND}/{{user_name}}")
@openapi.spec(data=_USER_DATA)
async def get_user(request: web.Request) -> web.Response:
    """A user (admin, or the user itself); its token is not shown."""
    name = request.match_info["user_name"]
    common.self_or_admin(request, name)
    user = await common.manager(request).get_user(name, kind=request.match_info["kind"])
    return envelope.ok(user.to_wire(expires_at=await common.manager(request).primary_expiry(user)))


@routes.put(PREFIX + "/v1/users/saas/{user_name}/refresh")
@openapi.spec(data=_USER_DATA)
async def refresh_saas(request: web.Request) -> web.Response:
    """Replace a saas user's token with a new one, returned once as user_token (admin only)."""
    auth.require_admin(request)
    user, issued, record = await common.manager(request).refresh_user(
        request.match_info["user_name"], kind="saas", lifetime=None, rotate=True
    )
    assert issued is not None
    return envelope.ok({**user.to_wire(expires_at=record.expires_at), "user_token": issued.token})


@routes.put(PREFIX + "/v1/users/plain/{user_name}/refresh/{expire_time}")
@openapi.spec(data=_USER_DATA)
async def refresh_plain(request: web.Request) -> web.Response:
    """Make a plain user's token last expire_time more days from now.

    A live token is kept (the answer has no user_token); an expired one is replaced by a new token,
    returned once as user_token. Admin, or the user itself.
    """
    name = request.match_info["user_name"]
    common.self_or_admin(request, name)
    raw = request.match_info["expire_time"]
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise errors.BadRequest(f"expire_time must be a number of days from 1 to 1000, got {raw!r}")
    user, issued, record = await common.manager(request).refresh_user(
        name, kind="plain", lifetime=int(raw) * 86400.0, rotate=False
    )
    body = user.to_wire(expires_at=record.expires_at)
    if issued is not None:
        body["user_token"] = issued.token
    return envelope.ok(body)


# -- tokens -----------------------------------------------------------------------------------------


@routes.post(PREFIX + "/v1/tokens")
@openapi.spec(
    body={
        "type": "object",
        "required": ["username", "expiration"],
        "properties": {
            "username": {"type": "string"},
            "expiration": _EXPIRATION,
            "usertype": {"type": "integer"},
        },
    },
    data=_TOKEN_DATA,
)
async def create_token(request: web.Request) -> web.Response:
    """Create a token for a user (admin, or the user itself); the token is in this answer only."""
    body = common.known_fields(await common.object_body(request), ["username", "expiration", "usertype"])
    name = body.get("username")
    if not isinstance(name, str) or not name:
        raise errors.BadRequest("username is required")
    if "expiration" not in body:
        raise errors.BadRequest("expiration is required (seconds; -1 = never)")
    who = common.self_or_admin(request, name)
    issued = await common.manager(request).create_token(
        name, created_by=who.name, expiration=body["expiration"]
    )
    return envelope.ok(_issued_wire(issued))


async def _owned_token(request: web.Request) -> users.TokenRecord:
    """The token the path names (by id or whole token), if the caller may manage it."""
    value = request.match_info["token"]
    parts = user_tokens.split(value)
    token_id = parts[0] if parts is not None else value
    record = await common.manager(request).get_token(token_id)
    if parts is not None and not user_tokens.matches(parts[1], salt=record.salt, expected=record.digest):
        raise errors.NotFound(f"token {token_id} not found")
    if record.kind == "register":
        auth.require_admin(request)
    else:
        common.self_or_admin(request, record.user_name)
    return record


@routes.put(PREFIX + "/v1/tokens/{token}")
@openapi.spec(body={"type": "object", "properties": {"expiration": _EXPIRATION}}, data=_TOKEN_DATA)
async def update_token(request: web.Request) -> web.Response:
    """Extend a token by expiration seconds beyond what it has left (-1 = never expires)."""
    body = await common.object_body(request)
    if set(body) != {"expiration"}:
        raise errors.BadRequest('the body must be {"expiration": seconds}')
    record = await _owned_token(request)
    updated = await common.manager(request).extend_token(record.id, expiration=body["expiration"])
    return envelope.ok(updated.to_wire(now=common.manager(request).clock()))


@routes.delete(PREFIX + "/v1/tokens/{token}")
async def delete_token(request: web.Request) -> web.Response:
    """Revoke a token at once (admin, or its owner)."""
    record = await _owned_token(request)
    await common.manager(request).delete_token(record.id)
    return envelope.ok(None)
