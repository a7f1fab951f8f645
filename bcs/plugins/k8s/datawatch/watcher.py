"""One watched kind of one cluster: its informer, the events it queues, and its diff against storage.

The informer's handler only queues keys (``(kind, "ns/name")``) on the cluster's shards; writers read
the latest cached state when they get to a key (level-triggered). The handler drops what would not
change storage: objects the filters skip, Event deletes (storage keeps events), and Node updates that
only move heartbeat times. Events of the informer's *first* list are not queued at all: the initial
diff against storage (:meth:`KindWatcher.diff`) queues exactly the objects storage lacks or holds
in another version, so a restarted process rewrites (and republishes) only what changed meanwhile.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from bcs.plugins.k8s.datawatch import convert, discovery, filters, sink, writer
from bcs.plugins.k8s.datawatch import metrics as metrics_mod
from bcs.plugins.k8s.datawatch import settings as settings_mod
from bcs.plugins.k8s.kube import client, informer

__all__ = ["EVENT", "HEARTBEAT_KINDS", "KindWatcher"]

logger = logging.getLogger(__name__)

EVENT = "Event"
HEARTBEAT_KINDS = frozenset({"Node"})
EVENT_MARGIN = 60.0  # seconds: events this close to the diff window's edge are left alone


class KindWatcher:
    """The informer of one kind and what it hands to the shards; :attr:`informer` runs as a task."""

    def __init__(
        self,
        res: discovery.ApiResource,
        *,
        kube: client.KubeClient,
        cluster_id: str,
        settings: settings_mod.DataWatchSettings,
        shards: writer.Shards,
        keep: filters.ObjectFilter,
        metrics: metrics_mod.Metrics,
        recent: Callable[[writer.Key], float],
        unchanged: Callable[[writer.Key, dict[str, Any]], bool] = lambda key, obj: False,
    ) -> None:
        self.res = res
        self.kind = res.kind
        self.cluster_id = cluster_id
        self.settings = settings
        self.shards = shards
        self.filter = keep
        self.metrics = metrics
        self.recent = recent  # when a key was last written (monotonic; 0 = not since the last diff)
        self.unchanged = unchanged  # whether an object equals what was last written (heartbeat kinds)
        self.diffed = False  # the initial diff has run
        # Spread the watch renewals of many kinds and clusters (upstream: 5-10 minutes at random).
        timeout = int(settings.watch_timeout * (1 + random.random()))
        self.informer = informer.Informer(
            kube,
            res.resource(),
            namespace=(settings.namespace or None) if res.namespaced else None,
            label_selector=settings.label_selectors.get(res.kind) or None,
            watch_timeout=timeout,
            backoff_initial=min(0.5, settings.retry_base),
            backoff_max=settings.retry_max,
        )
        self.informer.add_handler(self._on_event)

    def _drop(self, reason: str) -> None:
        self.metrics.dropped.labels(self.cluster_id, self.kind, reason).inc()

    def _on_event(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if not self.informer.synced:
            return  # the first list: the initial diff decides what to write
        if not self.filter.keep(self.kind, obj):
            self._drop("filtered")
            return
        if self.kind == EVENT and event == informer.DELETED:
            return  # events expire in the cluster; storage keeps them (retention applies)
        if self.kind in HEARTBEAT_KINDS and event == informer.MODIFIED and convert.heartbeat_only(old, obj):
            self._drop("heartbeat")
            return
        self.shards.add((self.kind, informer.key_of(obj)))

    def _wanted(self, key: writer.Key, started: float) -> bool:
        # Written after the listing began: the listing may predate the write, storage is right.
        return key not in self.shards and self.recent(key) < started

    async def diff(self, target: sink.Sink) -> int:
        """Queue every object whose stored copy is missing, stale or should not exist; return how many."""
        started = time.monotonic()
        if self.kind == EVENT:
            found = await self._diff_events(target, started)
        else:
            stored = await target.stored(self.cluster_id, self.kind)
            if self.informer.namespace:  # one namespace watched: the others are not ours to judge
                mine = self.informer.namespace
                stored = {k: rv for k, rv in stored.items() if convert.split_key(k)[0] == mine}
            local = {
                k: convert.rv_of(o)
                for k, o in list(self.informer.cache.items())
                if self.filter.keep(self.kind, o)
            }
            found = [k for k, rv in local.items() if stored.get(k) != rv and not self._same(k, k in stored)]
            found += [k for k in stored if k not in local]
        queued = 0
        for name in found:
            key = (self.kind, name)
            if self._wanted(key, started):
                self.shards.add(key)
                queued += 1
        if queued:
            self.metrics.repairs.labels(self.cluster_id, self.kind).inc(queued)
            logger.info("cluster %s: diff queued %d %s object(s)", self.cluster_id, queued, self.kind)
        self.diffed = True
        return queued

    def _same(self, name: str, is_stored: bool) -> bool:
        # A Node whose stored version differs only by heartbeats is up to date (its updates were dropped).
        if not is_stored or self.kind not in HEARTBEAT_KINDS:
            return False
        obj = self.informer.get(name)
        return obj is not None and self.unchanged((self.kind, name), obj)

    async def _diff_events(self, target: sink.Sink, started: float) -> list[str]:
        # Only recent events are compared (upstream: the last hour); older ones are left to retention.
        since = time.time() - self.settings.event_window
        stored = await target.stored_events(self.cluster_id, since)
        found = []
        for key, obj in list(self.informer.cache.items()):
            when = convert.event_time(obj)
            if when is None or when < since + EVENT_MARGIN or not self.filter.keep(self.kind, obj):
                continue
            if (key, convert.rv_of(obj)) not in stored:
                found.append(key)
        return found
