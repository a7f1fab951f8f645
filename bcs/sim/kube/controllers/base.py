"""Work queues for controllers: store events mark keys dirty, one task per controller drains them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bcs.sim.kube import status, store

if TYPE_CHECKING:
    from bcs.sim.kube import cluster as cluster_mod

__all__ = ["Controller", "Manager"]

log = logging.getLogger(__name__)
Key = Any


class Controller:
    """Subclasses set ``watches`` (resource keys) and implement ``reconcile``."""

    name = "controller"
    watches: tuple[str, ...] = ()
    # Receive every store event, whatever its resource.
    watch_all = False
    # Optional periodic work (seconds; 0 = none).
    period: float = 0.0

    def __init__(self, cl: cluster_mod.Cluster) -> None:
        self.cl = cl
        self.api = cl.api
        self.reg = cl.registry
        self._dirty: dict[Key, None] = {}
        self._wake = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()

    def keys_for(self, ev: store.Event) -> Iterable[Key]:
        return ((ev.obj.ns, ev.obj.name),)

    def enqueue(self, key: Key) -> None:
        self._dirty[key] = None
        self._wake.set()

    def enqueue_later(self, key: Key, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.enqueue(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def reconcile(self, key: Key) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Periodic work, every ``period`` seconds."""

    async def run(self) -> None:
        try:
            while True:
                if self.period:
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.period)
                    except TimeoutError:
                        self._safe(self.tick)
                        continue
                else:
                    await self._wake.wait()
                self._wake.clear()
                batch, self._dirty = list(self._dirty), {}
                for n, key in enumerate(batch):
                    self._safe(self.reconcile, key)
                    if n % 200 == 199:
                        await asyncio.sleep(0)  # let the server breathe during big batches
        finally:
            for handle in self._timers:
                handle.cancel()
            self._timers.clear()

    def _safe(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except status.ApiError as exc:
            # Conflicts and races with clients are normal; the next event retries.
            log.debug("%s: %s: %s", self.name, args, exc.message)
        except Exception:
            log.exception("%s failed on %s", self.name, args)


class Manager:
    """Feeds store events to the controllers watching them and runs their loops."""

    def __init__(self, st: store.Store, controllers: list[Controller]) -> None:
        self.controllers = controllers
        self._routes: dict[str, list[Controller]] = {}
        self._all = [c for c in controllers if c.watch_all]
        for c in controllers:
            for key in c.watches:
                self._routes.setdefault(key, []).append(c)
        self.store = st
        self._tasks: list[asyncio.Task[None]] = []
        st.add_listener(self._on_event)

    def _on_event(self, ev: store.Event) -> None:
        for c in (*self._routes.get(ev.key, ()), *self._all):
            for key in c.keys_for(ev):
                c.enqueue(key)

    def start(self) -> None:
        for c in self.controllers:
            self._tasks.append(asyncio.create_task(c.run(), name=f"sim-kube-{c.name}"))

    async def stop(self) -> None:
        self.store.remove_listener(self._on_event)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
