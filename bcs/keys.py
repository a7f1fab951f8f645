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
    from bcs.core.kv import KV as KVPort
    from bcs.core.ports import Port
    from bcs.core.registry import ClusterRegistry
    from bcs.gateway.metrics import Metrics
    from bcs.plugin_manager import BcsPlugins
    from bcs.storage.store import Store

__all__ = [
    "ADMIN_TOKEN",
    "BACKENDS",
    "BACKEND_REGISTRY",
    "BUS",
    "CLUSTERS",
    "KV",
    "METRICS",
    "PLUGINS",
    "PORTS",
    "SETTINGS",
    "STORE",
    "STORAGE",
    "TASKS",
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
