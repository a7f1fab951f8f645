"""The composition root: ``create_app(settings)`` builds the whole server.

It builds the plugin manager, the backend registry and the three ports (not yet connected), then
appends one ``cleanup_ctx`` per resource in dependency order (KV → Store → Bus → cluster registry →
backends → plugin tasks), so they unwind in reverse and a teardown runs only if its setup succeeded.
Only this module (and the CLI) reads files or the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pathlib
import secrets
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bcs import errors, keys, plugin_manager
from bcs.config import BcsSettings
from bcs.core import backend, bus, kv, ports, registry, tasks, users, utils
from bcs.gateway import (
    auth,
    clustermanager,
    health,
    metrics,
    middlewares,
    openapi,
    proxy,
    ratelimit,
    tls,
    usermanager,
)
from bcs.storage import http as storage_http
from bcs.storage import store

__all__ = ["create_app"]

logger = logging.getLogger(__name__)
ADMIN_TOKEN_FILE = "admin-token"


def create_app(settings: BcsSettings, *, plugins: plugin_manager.BcsPlugins | None = None) -> web.Application:
    """The aiohttp application for ``settings``; ``plugins`` lets tests pass their own manager."""
    if plugins is None:
        plugins = plugin_manager.make_plugin_manager(
            enabled=settings.plugins.enabled, disabled=settings.plugins.disabled
        )
    plugins.check_config(settings)
    backends = backend.BackendRegistry()
    plugins.register_backends(backends)

    app = web.Application(
        middlewares=[
            middlewares.request_id,
            middlewares.metrics,
            middlewares.errors_to_envelope,
            ratelimit.rate_limit,  # before auth: a flood is refused before any token lookup
            auth.authenticate,  # inside errors_to_envelope, so a refusal is rendered like any error
        ]
    )
    app[keys.SETTINGS] = settings
    app[keys.PLUGINS] = plugins
    app[keys.BACKEND_REGISTRY] = backends
    app[keys.METRICS] = metrics.Metrics()
    app[keys.BACKENDS] = {}
    app[keys.TASKS] = []
    # Built here, not connected: each cleanup_ctx below only starts and stops what exists already
    # (the application's state is frozen once it starts).
    settings.data_path.mkdir(parents=True, exist_ok=True)
    app[keys.ADMIN_TOKEN] = settings.auth.admin_token or _bootstrap_admin_token(settings.data_path)
    app[keys.KV] = kv.open_kv(settings.kv, data_dir=settings.data_path)
    app[keys.STORE] = store.open_store(settings.store, data_dir=settings.data_path)
    app[keys.BUS] = bus.open_bus(settings.bus)
    app[keys.PORTS] = {"kv": app[keys.KV], "store": app[keys.STORE], "bus": app[keys.BUS]}
    app[keys.CLUSTERS] = registry.ClusterRegistry(app[keys.KV], prefix=settings.kv.prefix)
    app[keys.USERS] = users.UserManager(
        app[keys.KV], prefix=settings.kv.prefix, admin_token=app[keys.ADMIN_TOKEN]
    )
    tls_files = tls.prepare(settings.server, data_dir=settings.data_path)
    app[keys.GATEWAY_CA_PEM] = tls_files.ca_pem if tls_files is not None else ""
    app[keys.RATE_LIMITER] = ratelimit.RateLimiter(settings.server.rate_limit, settings.server.rate_burst)

    app.cleanup_ctx.extend(
        [
            _port_ctx("kv"),
            _port_ctx("store"),
            _port_ctx("bus"),
            auth.users_ctx,
            storage_http.storage_ctx,
            _clusters_ctx,
            _backends_ctx,
            _plugin_tasks_ctx,
        ]
    )
    app.router.add_routes(health.routes)
    storage_http.setup(app, store=app[keys.STORE], bus=app[keys.BUS], settings=settings)
    app.router.add_get("/metrics", metrics.handle_metrics)
    app.router.add_routes(usermanager.routes)
    app.router.add_routes(clustermanager.routes)
    app.router.add_routes(openapi.routes)
    app.router.add_routes(plugins.register_routes(settings))
    proxy.setup(app)  # the cluster reverse proxy and the Mesos driver route
    return app


# -- resources, in dependency order ---------------------------------------------------------------


def _bootstrap_admin_token(data_dir: pathlib.Path) -> str:
    """Reuse ``<data_dir>/admin-token`` or create it (mode 0600); only its path is ever logged."""
    path = data_dir / ADMIN_TOKEN_FILE
    with contextlib.suppress(FileNotFoundError):
        token = path.read_text(encoding="ascii").strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    logger.warning("no [auth] admin_token configured: generated one into %s", path)
    return token


async def _start_port(name: str, port: ports.Port) -> None:
    """Start a port; a service that is down delays readiness, it does not stop the process."""
    try:
        await port.start()
    except errors.PortUnavailable as e:
        logger.warning("%s is not available yet (%s); /readyz reports it until it answers", name, e.message)


def _port_ctx(name: str) -> Callable[[web.Application], AsyncIterator[None]]:
    async def port_ctx(app: web.Application) -> AsyncIterator[None]:
        port = app[keys.PORTS][name]
        await _start_port(name, port)
        yield
        await port.close()

    port_ctx.__name__ = f"{name}_ctx"
    return port_ctx


async def _clusters_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    clusters = app[keys.CLUSTERS]
    loader = None
    if settings.clusters:
        loader = tasks.create_guarded_task(
            name="clusters.load_static",
            coro=_load_static_clusters(clusters, settings),
            eternal=False,
        )
    yield
    if loader is not None:
        await tasks.stop_tasks([loader], timeout=settings.server.shutdown_timeout)


async def _load_static_clusters(clusters: registry.ClusterRegistry, settings: BcsSettings) -> None:
    """Load ``[[clusters]]`` into the registry, retrying while the KV port is down."""
    delay = 0.5
    while True:
        try:
            await clusters.load_static(settings.clusters)
        except errors.PortUnavailable as e:
            logger.warning("static clusters not loaded yet (%s); retrying in %.1fs", e.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        else:
            logger.info("loaded %d static cluster(s) from %s", len(settings.clusters), settings.source)
            return


async def _backends_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    started: list[backend.Backend] = []
    try:
        for cls in app[keys.BACKEND_REGISTRY]:
            context = backend.BackendContext(
                settings=settings,
                kv=app[keys.KV],
                bus=app[keys.BUS],
                clusters=app[keys.CLUSTERS],
                store=app[keys.STORE],
                config=settings.plugin_config(cls.name()),
                storage=app.get(keys.STORAGE),
                metrics=app[keys.METRICS].registry,
            )
            instance = cls(context)
            await instance.start()
            started.append(instance)
            app[keys.BACKENDS][cls.name()] = instance
        yield
    finally:
        for instance in reversed(started):
            try:
                await instance.close()
            except Exception:
                logger.exception("backend %s failed to close", instance.name())


async def _plugin_tasks_ctx(app: web.Application) -> AsyncIterator[None]:
    plugins = app[keys.PLUGINS]
    for result in plugins.startup(app):
        await utils.await_me_maybe(result)
    for spec in plugins.register_tasks(app):
        app[keys.TASKS].append(
            tasks.create_guarded_task(name=spec.name, coro=spec.factory(), eternal=spec.eternal)
        )
    yield
    await tasks.stop_tasks(app[keys.TASKS], timeout=app[keys.SETTINGS].server.shutdown_timeout)
