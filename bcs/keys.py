"""Every typed ``web.AppKey`` of the application, in one place (no string keys)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bcs.storage.http.common import STORAGE  # the storage service; defined below the gateway layer

if TYPE_CHECKING:
    from bcs.config import BcsSettings
    from bcs.core.backend import Backend, BackendRegistry
    from bcs.core.bus import Bus
    from bcs.core.discovery import ServiceView
    from bcs.core.kv import KV as KVPort
    from bcs.core.ports import Port
    from bcs.core.registry import ClusterRegistry
    from bcs.core.users import UserManager
    from bcs.gateway.mesosroute import DriverClient
    from bcs.gateway.metrics import Metrics
    from bcs.gateway.ratelimit import RateLimiter
    from bcs.gateway.upstreams import Upstreams
    from bcs.plugin_manager import BcsPlugins
    from bcs.storage.store import Store

__all__ = [
    "ADMIN_TOKEN",
    "BACKENDS",
    "BACKEND_REGISTRY",
    "BUS",
    "CLUSTERS",
    "GATEWAY_CA_PEM",
    "MESOS_DRIVERS",
    "MESOS_DRIVER_CLIENT",
    "RATE_LIMITER",
    "KV",
    "METRICS",
    "PLUGINS",
    "PORTS",
    "SETTINGS",
    "STORE",
    "STORAGE",
    "TASKS",
    "USERS",
    "UPSTREAMS",
]

SETTINGS: web.AppKey[BcsSettings] = web.AppKey("settings")
PLUGINS: web.AppKey[BcsPlugins] = web.AppKey("plugins")
BACKEND_REGISTRY: web.AppKey[BackendRegistry] = web.AppKey("backend_registry")
BACKENDS: web.AppKey[dict[str, Backend]] = web.AppKey("backends")  # started instances by name
KV: web.AppKey[KVPort] = web.AppKey("kv")
STORE: web.AppKey[Store] = web.AppKey("store")
BUS: web.AppKey[Bus] = web.AppKey("bus")
PORTS: web.AppKey[dict[str, Port]] = web.AppKey("ports")  # by name, pinged by /readyz
CLUSTERS: web.AppKey[ClusterRegistry] = web.AppKey("clusters")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
TASKS: web.AppKey[list[asyncio.Task[Any]]] = web.AppKey("tasks")  # plugins' guarded background tasks
ADMIN_TOKEN: web.AppKey[str] = web.AppKey("admin_token")
USERS: web.AppKey[UserManager] = web.AppKey("users")  # users, tokens, permissions (auth middleware)
# The gateway CA as PEM, for kubeconfigs ("" with tls = off, or files whose chain ends in no CA).
GATEWAY_CA_PEM: web.AppKey[str] = web.AppKey("gateway_ca_pem")
UPSTREAMS: web.AppKey[Upstreams] = web.AppKey("upstreams")  # per-cluster apiserver pools of the proxy
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
MESOS_DRIVERS: web.AppKey[ServiceView] = web.AppKey("mesos_drivers")  # registered Mesos driver endpoints
MESOS_DRIVER_CLIENT: web.AppKey[DriverClient] = web.AppKey("mesos_driver_client")  # pool to those drivers
