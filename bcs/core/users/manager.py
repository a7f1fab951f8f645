"""The user manager: users, tokens, per-cluster permissions and register tokens on the KV port.

Keys under ``<prefix>users/``: ``accounts/<name>``, ``tokens/<token id>`` and
``permissions/<user>/<resource type>/<resource>``; values are JSON (see :mod:`.model`). Creating a
record is a compare-and-swap against "absent" and every read-modify-write compares the mod revision,
so several bcs processes sharing one etcd never lose an update. Reads go through a
:class:`~.mirror.KvMirror` of the whole subtree once it is synced, so authenticating a request
costs one dict lookup and one HMAC, no I/O.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

import attrs
import orjson

from bcs import errors
from bcs.core import kv as kv_mod
from bcs.core.users import mirror as mirror_mod
from bcs.core.users import model, tokens

__all__ = ["BOOTSTRAP_ADMIN", "IssuedToken", "UserManager", "expiry"]

BOOTSTRAP_ADMIN = "admin"  # the user name the configured admin token authenticates as
_CAS_ATTEMPTS = 100


@attrs.frozen
class IssuedToken:
    """A token just created: ``token`` is the only copy of the secret; show it once, never log it."""

    token: str = attrs.field(repr=False)
    record: model.TokenRecord


def expiry(expiration: object, *, now: float, default: float | None) -> float | None:
    """Upstream ``expiration`` seconds (-1 = never; None = ``default`` lifetime) → expiry time."""
    if expiration is None:
        return None if default is None else now + default
    if isinstance(expiration, bool) or not isinstance(expiration, int):
        raise errors.BadRequest(f"expiration must be an integer number of seconds, got {expiration!r}")
    if expiration == -1:
        return None
    if not 0 < expiration <= model.MAX_EXPIRATION:
        raise errors.BadRequest(
            f"expiration must be -1 (never) or 1..{model.MAX_EXPIRATION} seconds (1000 days)"
        )
    return now + expiration


class UserManager:
    """Users, tokens and permissions under ``<prefix>users/``; ``admin_token`` is the bootstrap one.

    ``clock`` (seconds since the epoch) decides expiry; tests replace it to age tokens.
    """

    def __init__(
        self, kv: kv_mod.KV, *, prefix: str, admin_token: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._kv = kv
        self._root = f"{prefix}users/"
        self._accounts = f"{self._root}accounts/"
        self._tokens = f"{self._root}tokens/"
        self._permissions = f"{self._root}permissions/"
        self._admin_token = admin_token.encode()
        self.clock = clock
        self._mirror = mirror_mod.KvMirror(kv, self._root, decode=self._decode)

    def start(self) -> None:
        """Start mirroring the users subtree (reads go to the KV port until it is synced)."""
        self._mirror.start()

    async def close(self) -> None:
        await self._mirror.close()

    async def wait_synced(self) -> None:
        await self._mirror.wait_synced()

    # -- authentication --------------------------------------------------------------------------

    async def authenticate(self, token: str) -> model.Principal:
        """The principal ``token`` stands for; Unauthorized (saying nothing of the token) if none."""
        if self._admin_token and hmac.compare_digest(token.encode(), self._admin_token):
            return model.Principal(name=BOOTSTRAP_ADMIN, kind="admin", token_id="bootstrap")
        parts = tokens.split(token)
        if parts is None:
            raise errors.Unauthorized("invalid token")
        token_id, secret = parts
        record = await self._read(self._tokens + token_id)
        if record is None or not tokens.matches(secret, salt=record.salt, expected=record.digest):
            raise errors.Unauthorized("invalid token")
        if record.expired(self.clock()):
            raise errors.Unauthorized("token expired")
        if record.kind == "register":
            return model.Principal(
                name=record.user_name, kind="register", token_id=record.id, cluster_id=record.cluster_id
            )
        user = await self._read(self._accounts + record.user_name)
        if user is None:
            raise errors.Unauthorized("invalid token")
        return model.Principal(name=user.name, kind=user.kind, token_id=record.id)

    async def allowed(self, principal: model.Principal, *, cluster_id: str, verb: str) -> bool:
        """Whether ``principal`` may use Kubernetes ``verb`` on cluster ``cluster_id``."""
        if principal.is_admin:
            return True
        if principal.is_register:
            return False  # a register token only reports its cluster's credential
        permission = await self._read(self._permission_key(principal.name, "cluster", cluster_id))
        return permission is not None and permission.allows(verb)

    async def verify(self, token: str, *, cluster_id: str, verb: str) -> tuple[bool, str]:
        """Upstream ``/permissions/verify``: ``(allowed, message)`` for someone else's token."""
        try:
            principal = await self.authenticate(token)
        except errors.Unauthorized as e:
            return False, e.message
        if await self.allowed(principal, cluster_id=cluster_id, verb=verb):
            return True, "allowed"
        return False, f"user {principal.name} may not {verb} cluster {cluster_id}"

    # -- users -----------------------------------------------------------------------------------

    async def create_user(
        self, name: str, *, kind: str, created_by: str, expiration: object = None
    ) -> tuple[model.User, IssuedToken]:
        """A new user with its first token (``expiration`` as upstream; default by kind)."""
        model.check_name(name)
        if kind not in model.KINDS:
            raise errors.BadRequest(f"unknown user kind {kind!r} (kinds: {', '.join(model.KINDS)})")
        now = self.clock()
        default = model.PLAIN_USER_LIFETIME if kind == "plain" else None
        expires_at = expiry(expiration, now=now, default=default)
        if await self._read(self._accounts + name) is not None:
            raise errors.Conflict(f"user {name} already exists")
        issued = await self._issue(name, created_by=created_by, expires_at=expires_at)
        user = model.User(
            name=name,
            kind=kind,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            primary_token=issued.record.id,
        )
        if not await self._create(self._accounts + name, user):
            await self._delete(self._tokens + issued.record.id)
            raise errors.Conflict(f"user {name} already exists")
        return user, issued

    async def get_user(self, name: str, *, kind: str | None = None) -> model.User:
        user = await self._read(self._accounts + name)
        if user is None or (kind is not None and user.kind != kind):
            raise errors.NotFound(f"{kind or 'user'} user {name} not found")
        return user

    async def primary_expiry(self, user: model.User) -> float | None:
        record = await self._read(self._tokens + user.primary_token)
        return None if record is None else record.expires_at

    async def refresh_user(
        self, name: str, *, kind: str, lifetime: float | None, rotate: bool
    ) -> tuple[model.User, IssuedToken | None, model.TokenRecord]:
        """Extend the user's primary token to ``lifetime`` from now (None = never).

        With ``rotate``, or when the primary token is gone or expired, a new one replaces it and is
        returned (once); otherwise the same token lives on and only its record is returned.
        """
        user = await self.get_user(name, kind=kind)
        now = self.clock()
        expires_at = None if lifetime is None else now + lifetime
        current = await self._read(self._tokens + user.primary_token)
        if not rotate and current is not None and not current.expired(now):
            updated = await self._update_token(current.id, lambda r: attrs.evolve(r, expires_at=expires_at))
            return user, None, updated
        issued = await self._issue(name, created_by=user.created_by, expires_at=expires_at)
        user = await self._update(
            self._accounts + name,
            lambda u: attrs.evolve(u, primary_token=issued.record.id, updated_at=now),
            what=f"user {name}",
        )
        if current is not None:
            await self._delete(self._tokens + current.id)
        return user, issued, issued.record

    # -- tokens ----------------------------------------------------------------------------------

    async def create_token(self, user_name: str, *, created_by: str, expiration: object) -> IssuedToken:
        """Another token of an existing user (upstream ``POST /v1/tokens``)."""
        await self.get_user(user_name)
        expires_at = expiry(expiration, now=self.clock(), default=None)
        return await self._issue(user_name, created_by=created_by, expires_at=expires_at)

    async def get_token(self, token_id: str) -> model.TokenRecord:
        record = await self._read(self._tokens + token_id) if token_id.isalnum() else None
        if record is None:
            raise errors.NotFound(f"token {token_id} not found")
        return record

    async def list_tokens(self, user_name: str) -> list[model.TokenRecord]:
        found = await self._list(self._tokens)
        return sorted(
            (r for r in found if r.kind == "user" and r.user_name == user_name), key=lambda r: r.created_at
        )

    async def extend_token(self, token_id: str, *, expiration: object) -> model.TokenRecord:
        """Upstream ``PUT /v1/tokens/{token}``: add ``expiration`` seconds to what is left (-1 = never)."""
        now = self.clock()
        added = expiry(expiration, now=now, default=None)

        def extend(record: model.TokenRecord) -> model.TokenRecord:
            if added is None:
                return attrs.evolve(record, expires_at=None)
            left = 0.0 if record.expires_at is None else max(record.expires_at - now, 0.0)
            return attrs.evolve(record, expires_at=added + left)

        await self.get_token(token_id)
        return await self._update_token(token_id, extend)

    async def delete_token(self, token_id: str) -> model.TokenRecord:
        record = await self.get_token(token_id)
        if not await self._delete(self._tokens + token_id):
            raise errors.NotFound(f"token {token_id} not found")
        return record

    # -- register tokens -------------------------------------------------------------------------

    async def create_register_token(self, cluster_id: str, *, created_by: str) -> IssuedToken:
        """A new register token for ``cluster_id``, replacing any earlier one (one per cluster)."""
        old = await self.register_tokens(cluster_id)
        issued = await self._issue(
            f"cluster:{cluster_id}", created_by=created_by, expires_at=None, cluster_id=cluster_id
        )
        for record in old:
            await self._delete(self._tokens + record.id)
        return issued

    async def register_tokens(self, cluster_id: str) -> list[model.TokenRecord]:
        found = await self._list(self._tokens)
        return [r for r in found if r.kind == "register" and r.cluster_id == cluster_id]

    async def forget_cluster(self, cluster_id: str) -> None:
        """Drop the register tokens of a deleted cluster and every permission on it."""
        for record in await self.register_tokens(cluster_id):
            await self._delete(self._tokens + record.id)
        for permission in await self.list_permissions(resource_type="cluster", resource=cluster_id):
            await self._delete(self._permission_key(permission.user_name, "cluster", cluster_id))

    # -- permissions -----------------------------------------------------------------------------

    async def grant(
        self, user_name: str, *, resource_type: str, resource: str, role: str, created_by: str
    ) -> model.Permission:
        """Give ``user_name`` ``role`` on the resource, replacing the role it had there."""
        permission = self.permission(user_name, resource_type=resource_type, resource=resource, role=role)
        await self.get_user(user_name)
        permission = attrs.evolve(permission, created_by=created_by, created_at=self.clock())
        key = self._permission_key(user_name, resource_type, resource)
        await self._put(key, permission)
        return permission

    def permission(self, user_name: str, *, resource_type: str, resource: str, role: str) -> model.Permission:
        """A validated permission (BadRequest naming what is wrong); nothing is stored."""
        model.check_name(user_name)
        try:
            return model.Permission(
                user_name=user_name, resource_type=resource_type, resource=resource, role=role
            )
        except (TypeError, ValueError) as e:
            raise errors.BadRequest(
                f"invalid permission: {e.args[0] if e.args else e}"
                f" (resource_type: {', '.join(model.RESOURCE_TYPES)}; role: {', '.join(model.ROLES)})"
            ) from None

    async def get_permission(self, user_name: str, *, resource_type: str, resource: str) -> model.Permission:
        found = await self._read(self._permission_key(user_name, resource_type, resource))
        if found is None:
            raise errors.NotFound(f"user {user_name} has no role on {resource_type} {resource}")
        return found

    async def revoke(self, user_name: str, *, resource_type: str, resource: str) -> None:
        await self.get_permission(user_name, resource_type=resource_type, resource=resource)
        await self._delete(self._permission_key(user_name, resource_type, resource))

    async def list_permissions(
        self, *, user_name: str | None = None, resource_type: str | None = None, resource: str | None = None
    ) -> list[model.Permission]:
        prefix = self._permissions if user_name is None else f"{self._permissions}{user_name}/"
        return [
            p
            for p in await self._list(prefix)
            if (resource_type is None or p.resource_type == resource_type)
            and (resource is None or p.resource == resource)
        ]

    # -- storage ---------------------------------------------------------------------------------

    def _permission_key(self, user_name: str, resource_type: str, resource: str) -> str:
        return f"{self._permissions}{user_name}/{resource_type}/{resource}"

    def _decode(self, key: str, value: bytes) -> Any:
        data = orjson.loads(value)
        if key.startswith(self._accounts):
            return model.User.from_json(data)
        if key.startswith(self._tokens):
            return model.TokenRecord.from_json(data)
        if key.startswith(self._permissions):
            return model.Permission.from_json(data)
        return data

    async def _read(self, key: str) -> Any:
        if self._mirror.synced:
            return self._mirror.get(key)
        found = await self._kv.get(key)
        return None if found is None else self._decode(key, found.value)

    async def _list(self, prefix: str) -> list[Any]:
        if self._mirror.synced:
            return self._mirror.values(prefix)
        return [self._decode(item.key, item.value) for item in await self._kv.range(prefix)]

    async def _create(self, key: str, obj: Any) -> bool:
        created = await self._kv.compare_and_swap(key, orjson.dumps(obj.to_json()), expected_mod_revision=0)
        if created:
            await self._mirror.refresh(key)
        return created

    async def _put(self, key: str, obj: Any) -> None:
        await self._kv.put(key, orjson.dumps(obj.to_json()))
        await self._mirror.refresh(key)

    async def _delete(self, key: str) -> bool:
        deleted = await self._kv.delete(key)
        await self._mirror.refresh(key)
        return deleted

    async def _update(self, key: str, change: Callable[[Any], Any], *, what: str) -> Any:
        for _ in range(_CAS_ATTEMPTS):
            current = await self._kv.get(key)
            if current is None:
                raise errors.NotFound(f"{what} not found")
            updated = change(self._decode(key, current.value))
            if await self._kv.compare_and_swap(
                key, orjson.dumps(updated.to_json()), expected_mod_revision=current.mod_revision
            ):
                await self._mirror.refresh(key)
                return updated
        raise errors.Conflict(f"{what} keeps changing; try again")

    async def _update_token(
        self, token_id: str, change: Callable[[model.TokenRecord], model.TokenRecord]
    ) -> model.TokenRecord:
        return await self._update(self._tokens + token_id, change, what=f"token {token_id}")

    async def _issue(
        self, user_name: str, *, created_by: str, expires_at: float | None, cluster_id: str = ""
    ) -> IssuedToken:
        """Write a new token record under a fresh id; return the token (the secret's only copy)."""
        for _ in range(_CAS_ATTEMPTS):
            token_id, secret, salt = tokens.new_id(), tokens.new_secret(), tokens.new_salt()
            record = model.TokenRecord(
                id=token_id,
                user_name=user_name,
                salt=salt,
                digest=tokens.digest(secret, salt),
                kind="register" if cluster_id else "user",
                cluster_id=cluster_id,
                created_by=created_by,
                created_at=self.clock(),
                expires_at=expires_at,
            )
            if await self._create(self._tokens + token_id, record):
                return IssuedToken(token=token_id + secret, record=record)
        raise errors.Conflict("could not allocate a token id; try again")  # pragma: no cover
