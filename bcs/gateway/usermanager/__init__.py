"""User manager routes under ``/bcsapi/v4/usermanager`` (upstream bcs-user-manager, spec §1.5).

:mod:`.users`: users (admin, saas, plain) and their tokens. :mod:`.permissions`: per-cluster
permissions with verify, register tokens, and the legacy cluster and credential routes. A token's
secret is in the answer to the request that created it and nowhere else.
"""

from __future__ import annotations

from aiohttp import web

from bcs.gateway.usermanager import common, permissions, users

__all__ = ["PREFIX", "routes"]

PREFIX = common.PREFIX
# In this order: /v1/users/{username}/tokens must be tried before /v1/users/{kind}/{name}.
routes: list[web.AbstractRouteDef] = [*users.routes, *permissions.routes]
