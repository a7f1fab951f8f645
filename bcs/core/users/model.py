"""The user manager's records: users, token records, permissions, and the calling principal.

Field names of the JSON stored in the KV port are those of upstream bcs-user-manager's tables
(``BcsUser``, ``BcsUserResourceRole``) where one exists, so a dump reads like upstream's rows.
A token's secret never lives in any of these records: only its salted hash does.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

import attrs

from bcs import errors

__all__ = [
    "ADMIN_KINDS",
    "KINDS",
    "MAX_EXPIRATION",
    "PLAIN_USER_LIFETIME",
    "READ_VERBS",
    "RESERVED_NAMES",
    "RESOURCE_TYPES",
    "ROLES",
    "USER_TYPES",
    "Permission",
    "Principal",
    "TokenRecord",
    "User",
    "check_name",
    "iso",
]

# Upstream `user_type`: 1 admin, 2 saas, 3 plain (4 = client, not supported here).
USER_TYPES: Mapping[str, int] = {"admin": 1, "saas": 2, "plain": 3}
KINDS = tuple(USER_TYPES)
ADMIN_KINDS = frozenset({"admin", "saas"})  # upstream IsAdmin(): admin or saas
ROLES = ("viewer", "manager")
RESOURCE_TYPES = ("cluster",)
# The Kubernetes verbs a `viewer` may use; a `manager` may use every verb.
READ_VERBS = frozenset({"get", "list", "watch"})
MAX_EXPIRATION = 1000 * 24 * 3600  # upstream refuses token lifetimes above 1000 days
PLAIN_USER_LIFETIME = 24 * 3600  # upstream PlainUserExpiredTime; admin and saas users never expire
RESERVED_NAMES = frozenset({"tokens", "info"})  # would shadow /v1/users/{name}/tokens and /v1/users/info

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def check_name(name: object, *, what: str = "user name") -> str:
    """``name`` if it is a usable user name, else BadRequest."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise errors.BadRequest(
            f"invalid {what} {name!r}: 1-64 characters of letters, digits, '.', '_', '@', '-'"
        )
    if name in RESERVED_NAMES:
        raise errors.BadRequest(f"{what} {name!r} is reserved")
    return name


def iso(epoch: float | None) -> str | None:
    """Seconds since the epoch as upstream's RFC 3339 UTC text; None stays None (never)."""
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load(cls: type[Any], data: Mapping[str, Any]) -> Any:
    names = {f.name for f in attrs.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@attrs.frozen
class User:
    """A user (upstream ``BcsUser`` without the token, which lives in its own hashed records)."""

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    created_by: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    primary_token: str = ""  # id of the token issued with the user (rotated by refresh)

    @property
    def user_type(self) -> int:
        return USER_TYPES[self.kind]

    @property
    def is_admin(self) -> bool:
        return self.kind in ADMIN_KINDS

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        return _load(cls, data)

    def to_wire(self, *, expires_at: float | None = None) -> dict[str, Any]:
        """The upstream JSON shape of a user (``user_token`` is added only when a token is issued)."""
        return {
            "name": self.name,
            "user_type": self.user_type,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "expires_at": iso(expires_at),
        }


@attrs.frozen
class TokenRecord:
    """A stored token: a non-secret id, and a salted HMAC of the secret part (never the secret)."""

    id: str
    user_name: str  # the owner; for register tokens, "cluster:<clusterID>"
    salt: str = attrs.field(repr=False)
    digest: str = attrs.field(repr=False)
    kind: str = attrs.field(default="user", validator=attrs.validators.in_(("user", "register")))
    cluster_id: str = ""  # the only cluster a register token may register
    created_by: str = ""
    created_at: float = 0.0
    expires_at: float | None = None  # None = never

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenRecord:
        return _load(cls, data)

    def to_wire(self, *, now: float) -> dict[str, Any]:
        """What a listing shows: the id, owner, status and expiry; never the secret or its hash."""
        body: dict[str, Any] = {
            "token_id": self.id,
            "username": self.user_name,
            "kind": self.kind,
            "status": 0 if self.expired(now) else 1,  # upstream TokenStatus: 0 expired, 1 active
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "expired_at": iso(self.expires_at),
        }
        if self.cluster_id:
            body["cluster_id"] = self.cluster_id
        return body


@attrs.frozen
class Permission:
    """One role of one user on one resource (upstream ``BcsUserResourceRole``)."""

    user_name: str
    resource_type: str = attrs.field(validator=attrs.validators.in_(RESOURCE_TYPES))
    resource: str = attrs.field()
    role: str = attrs.field(validator=attrs.validators.in_(ROLES))
    created_by: str = ""
    created_at: float = 0.0

    @resource.validator
    def _check_resource(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not value or "/" in value:
            raise errors.BadRequest(f"invalid resource {value!r}")

    def allows(self, verb: str) -> bool:
        return self.role == "manager" or verb in READ_VERBS

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Permission:
        return _load(cls, data)

    def to_wire(self) -> dict[str, Any]:
        body = attrs.asdict(self)
        body["created_at"] = iso(self.created_at)
        return body


@attrs.frozen
class Principal:
    """Who is calling, as the auth middleware established it; carries no secret.

    ``kind`` is a user kind (admin, saas, plain) or ``"register"`` for a cluster's register token,
    which may only report the credential of ``cluster_id``. ``token_id`` names the token used
    (``"bootstrap"`` for the configured admin token), e.g. to key a per-token rate limit.
    """

    name: str
    kind: str
    token_id: str
    cluster_id: str = ""

    @property
    def is_admin(self) -> bool:
        return self.kind in ADMIN_KINDS

    @property
    def is_register(self) -> bool:
        return self.kind == "register"

    @property
    def user(self) -> str:
        """The user name (what the proxy sends as ``Impersonate-User``); same as :attr:`name`."""
        return self.name

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"username": self.name, "kind": self.kind, "token_id": self.token_id}
        if self.kind in USER_TYPES:
            body["user_type"] = USER_TYPES[self.kind]
        if self.cluster_id:
            body["cluster_id"] = self.cluster_id
        return body
