"""The storage HTTP API under ``/bcsapi/v4/storage/`` (upstream ``/bcsstorage/v1/``), on the
:class:`~bcs.storage.service.core.StorageService`; handlers parse and render, the service does the rest.

The composition root wires it with two lines: ``setup(app, store=, bus=, settings=)`` once the ports
exist (it builds the service into ``app[keys.STORAGE]``, adds the routes and an ``on_shutdown`` hook
that ends open watch streams, so a graceful shutdown does not wait for them), and ``storage_ctx`` in
the ``cleanup_ctx`` list after the Bus port's (it runs the outbox drainer while the app runs).

Modules: :mod:`.params` (query parameters), :mod:`.dynamic`, :mod:`.custom`, :mod:`.typed`,
:mod:`.events`, :mod:`.watch` (one ``RouteTableDef`` each), :mod:`.common`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from bcs.core import tasks
from bcs.storage.http import common, custom, dynamic, events, typed, watch
from bcs.storage.service import core

if TYPE_CHECKING:
    from bcs.config import BcsSettings
    from bcs.core.bus import Bus
    from bcs.storage.store import Store

__all__ = ["ROUTE_TABLES", "setup", "storage_ctx"]

ROUTE_TABLES: tuple[web.RouteTableDef, ...] = (
    dynamic.routes,
    custom.routes,
    typed.routes,
    events.routes,
    watch.routes,
)


def setup(app: web.Application, *, store: Store, bus: Bus, settings: BcsSettings) -> None:
    """Build the storage service (``app[keys.STORAGE]``), add the routes, end watches on shutdown."""
    app[common.STORAGE] = core.StorageService.from_settings(store, bus, settings)
    for table in ROUTE_TABLES:
        app.router.add_routes(table)
    app.on_shutdown.append(_end_watches)


async def _end_watches(app: web.Application) -> None:
    service = app.get(common.STORAGE)
    if service is not None:
        await service.close()


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the storage service's outbox drainer and event retention (the ports are started by then)."""
    service = app[common.STORAGE]
    running = [
        tasks.create_guarded_task(name="storage.outbox", coro=service.outbox.run()),
        tasks.create_guarded_task(name="storage.event_retention", coro=service.events.run_retention()),
    ]
    try:
        yield
    finally:
        await service.close()
        await tasks.stop_tasks(running)
        await service.outbox.close()
