"""Watch fan-out: per-request watchers fed synchronously from the store, in resourceVersion order.

A watcher's queue is bounded; a watcher too slow to keep up is closed rather than allowed to slow
the cluster down (clients re-watch from their last resourceVersion, as with a real apiserver).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from bcs.sim.kube import resources, selectors, store

__all__ = ["Hub", "Watcher"]


class Watcher:
    """One watch request's filter and its queue of (type, Obj) pairs; ``None`` marks the end."""

    def __init__(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        labels: tuple[selectors.Requirement, ...],
        fields: tuple[selectors.Requirement, ...],
        *,
        max_queue: int,
    ) -> None:
        self.rt = rt
        self.ns = ns if rt.namespaced else None
        self.labels = labels
        self.fields = fields
        self.queue: asyncio.Queue[tuple[str, store.Obj] | None] = asyncio.Queue()
        self.max_queue = max_queue
        self.overflowed = False
        self.last_rv = 0

    def matches(self, obj: store.Obj | None) -> bool:
        if obj is None:
            return False
        if self.ns is not None and obj.ns != self.ns:
            return False
        return store.obj_matches(self.rt, obj, self.labels, self.fields)

    def translate(self, ev: store.Event) -> str | None:
        """The event type this watcher sees (selector transitions become ADDED/DELETED)."""
        new = self.matches(ev.obj)
        if ev.type == "ADDED":
            return "ADDED" if new else None
        if ev.type == "DELETED":
            return "DELETED" if new or self.matches(ev.old) else None
        old = self.matches(ev.old)
        if new and old:
            return "MODIFIED"
        if new:
            return "ADDED"
        return "DELETED" if old else None

    def offer(self, ev: store.Event) -> None:
        if self.overflowed:
            return
        kind = self.translate(ev)
        if kind is None:
            return
        if self.queue.qsize() >= self.max_queue:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait((kind, ev.obj))

    def replay(self, events: Iterable[store.Event]) -> None:
        """Queue the history after a resourceVersion; the history holds every resource's events."""
        for ev in events:
            if ev.key != self.rt.key:
                continue
            kind = self.translate(ev)
            if kind is not None:
                self.queue.put_nowait((kind, ev.obj))


class Hub:
    """Routes store events to the watchers of the event's resource."""

    def __init__(self, st: store.Store, *, max_queue: int = 10_000) -> None:
        self.store = st
        self.max_queue = max_queue
        self._by_key: dict[str, set[Watcher]] = {}
        st.add_listener(self._on_event)

    def _on_event(self, ev: store.Event) -> None:
        for w in self._by_key.get(ev.key, ()):
            w.offer(ev)

    def add(self, w: Watcher) -> None:
        self._by_key.setdefault(w.rt.key, set()).add(w)

    def discard(self, w: Watcher) -> None:
        group = self._by_key.get(w.rt.key)
        if group is not None:
            group.discard(w)

    def close_all(self) -> None:
        for group in self._by_key.values():
            for w in group:
                w.queue.put_nowait(None)
        self._by_key.clear()

    def count(self) -> int:
        return sum(len(g) for g in self._by_key.values())
