"""The user manager: users (admin, saas, plain), tokens, per-cluster permissions, register tokens.

All state is on the KV port (etcd in production). Tokens are stored only as salted hashes and
compared in constant time; a token's secret exists only in the answer to the request that created
it. No HTTP here: the gateway's ``usermanager`` routes and auth middleware build on this package.
"""

from __future__ import annotations

from bcs.core.users.manager import BOOTSTRAP_ADMIN, IssuedToken, UserManager, expiry
from bcs.core.users.model import (
    ADMIN_KINDS,
    KINDS,
    READ_VERBS,
    RESOURCE_TYPES,
    ROLES,
    USER_TYPES,
    Permission,
    Principal,
    TokenRecord,
    User,
)

__all__ = [
    "ADMIN_KINDS",
    "BOOTSTRAP_ADMIN",
    "KINDS",
    "READ_VERBS",
    "RESOURCE_TYPES",
    "ROLES",
    "USER_TYPES",
    "IssuedToken",
    "Permission",
    "Principal",
    "TokenRecord",
    "User",
    "UserManager",
    "expiry",
]
