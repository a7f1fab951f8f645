"""The data watch of one cluster (:class:`DataWatch`): discovery, one watcher per kind, the sharded
writers and the periodic diff, until cancelled.

Discovery runs at start and every ``discovery_interval`` (new CRDs start being watched; a kind that
disappears is dropped, unless its group-version merely failed to answer). Each watcher's informer
syncs, then its initial diff queues what storage lacks; after that every ``diff_interval`` all kinds
are diffed again, which heals whatever a failure let through (spec/bkbcs.md §4.1, "Synchronizer").
Writers read the latest cached object per key: present → put (Pods annotated with their workload,
Events converted), absent → delete.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bcs import errors
from bcs.core import tasks
from bcs.plugins.k8s.datawatch import convert, discovery, filters, sink, watcher, writer
from bcs.plugins.k8s.datawatch import metrics as metrics_mod
from bcs.plugins.k8s.datawatch import settings as settings_mod
from bcs.plugins.k8s.kube import client

__all__ = ["OWNER_WAITS", "DataWatch"]

logger = logging.getLogger(__name__)

OWNER_WAITS = 5  # times a Pod waits (writer.LATER_DELAY each) for its ReplicaSet/Job to be cached
DONE, RETRY, LATER = writer.Outcome.DONE, writer.Outcome.RETRY, writer.Outcome.LATER


class DataWatch:
    """Keeps storage equal to one cluster; :meth:`run` until cancelled."""

    def __init__(
        self,
        kube: client.KubeClient,
        target: sink.Sink,
        *,
        cluster_id: str,
        settings: settings_mod.DataWatchSettings,
        metrics: metrics_mod.Metrics | None = None,
    ) -> None:
        self.kube = kube
        self.sink = target
        self.cluster_id = cluster_id
        self.settings = settings
        self.metrics = metrics or metrics_mod.Metrics()
        self.filter = filters.ObjectFilter(settings)
        self.shaper = convert.Shaper(settings)
        self.shards = writer.Shards(
            settings.shards,
            self._process,
            batch_size=settings.batch_size,
            retry_base=settings.retry_base,
            retry_max=settings.retry_max,
            on_done=self._written,
            name=cluster_id,
        )
        self.watchers: dict[str, watcher.KindWatcher] = {}
        self.discoveries = 0
        self._tasks: dict[str, list[asyncio.Task[Any]]] = {}
        self._recent: dict[writer.Key, float] = {}  # key -> when last written (monotonic)
        self._diffs: list[float] = []  # start times of the diffs running now
        self._prints: dict[writer.Key, bytes] = {}  # heartbeat kinds: digest of what was last written
        self._owner_waits: dict[writer.Key, int] = {}

    # -- what metrics and callers read ------------------------------------------------------------

    def depths(self) -> dict[str, int]:
        return self.shards.depths()

    def sizes(self) -> dict[str, int]:
        return {kind: len(w.informer.cache) for kind, w in list(self.watchers.items())}

    @property
    def synced(self) -> bool:
        """Discovery ran and every watched kind has had its initial diff."""
        return self.discoveries > 0 and all(w.diffed for w in self.watchers.values())

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        self.metrics.attach(self)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.shards.run(), name=f"datawatch {self.cluster_id} writers")
                group.create_task(self._discovery_loop(), name=f"datawatch {self.cluster_id} discovery")
                group.create_task(self._diff_loop(), name=f"datawatch {self.cluster_id} diff")
        finally:
            for kind in list(self.watchers):
                await self._stop_watcher(kind)
            self.metrics.detach(self)

    async def _discovery_loop(self) -> None:
        delay = self.settings.retry_base
        while True:
            try:
                found = await discovery.discover(self.kube)
            except errors.BcsError as e:
                self.metrics.errors.labels(self.cluster_id, "discovery").inc()
                logger.warning(
                    "cluster %s: discovery failed (%s); retrying in %.1fs", self.cluster_id, e, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max)
                continue
            delay = self.settings.retry_base
            await self._apply(found)
            self.discoveries += 1
            await asyncio.sleep(self.settings.discovery_interval)

    async def _apply(self, found: discovery.Discovery) -> None:
        wanted = {r.kind: r for r in filters.select_resources(found.resources, self.settings)}
        for kind, current in list(self.watchers.items()):
            res = wanted.get(kind)
            if res == current.res or (res is None and current.res.group_version in found.failed):
                continue
            await self._stop_watcher(kind)
        for kind, res in wanted.items():
            if kind not in self.watchers:
                self._start_watcher(res)

    def _start_watcher(self, res: discovery.ApiResource) -> None:
        w = watcher.KindWatcher(
            res,
            kube=self.kube,
            cluster_id=self.cluster_id,
            settings=self.settings,
            shards=self.shards,
            keep=self.filter,
            metrics=self.metrics,
            recent=lambda key: self._recent.get(key, 0.0),
            unchanged=self._unchanged,
        )
        self.watchers[res.kind] = w
        prefix = f"datawatch {self.cluster_id} {res.kind}"
        self._tasks[res.kind] = [
            tasks.create_guarded_task(name=f"{prefix} informer", coro=w.informer.run()),
            tasks.create_guarded_task(
                name=f"{prefix} initial diff", coro=self._initial_diff(w), eternal=False
            ),
        ]
        logger.info("cluster %s: watching %s (%s)", self.cluster_id, res.kind, res.group_version)

    async def _stop_watcher(self, kind: str) -> None:
        self.watchers.pop(kind, None)
        running = self._tasks.pop(kind, [])
        for task in running:
            task.cancel()
        if running:
            # asyncio.wait: our own cancellation (the whole watch stopping meanwhile) goes through.
            await asyncio.wait(running)
        logger.debug("cluster %s: stopped watching %s", self.cluster_id, kind)

    async def _initial_diff(self, w: watcher.KindWatcher) -> None:
        await w.informer.wait_synced()
        delay = self.settings.retry_base
        while await self._diff(w) is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.retry_max)

    async def _diff_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.diff_interval)
            await self.diff_all()

    async def diff_all(self) -> int:
        """Diff every synced kind against storage now; return how many objects were queued."""
        cutoff = min(self._diffs, default=time.monotonic())
        self._recent = {k: t for k, t in self._recent.items() if t >= cutoff}
        queued = 0
        for w in list(self.watchers.values()):
            if w.informer.synced:
                queued += await self._diff(w) or 0
        return queued

    async def _diff(self, w: watcher.KindWatcher) -> int | None:
        """How many objects the diff of ``w`` queued; None when storage could not be read."""
        started = time.monotonic()
        self._diffs.append(started)
        try:
            return await w.diff(self.sink)
        except Exception as e:
            self.metrics.errors.labels(self.cluster_id, w.kind).inc()
            if isinstance(e, errors.BcsError):
                logger.warning("cluster %s: diff of %s failed: %s", self.cluster_id, w.kind, e)
            else:
                logger.exception("cluster %s: diff of %s failed", self.cluster_id, w.kind)
            return None
        finally:
            self._diffs.remove(started)

    # -- writing ------------------------------------------------------------------------------

    def _written(self, key: writer.Key, lag: float) -> None:
        self._recent[key] = time.monotonic()
        self.metrics.lag.labels(self.cluster_id, key[0]).observe(lag)

    def _unchanged(self, key: writer.Key, obj: Mapping[str, Any]) -> bool:
        printed = self._prints.get(key)
        return printed is not None and printed == convert.fingerprint(self.shaper.shape(key[0], obj))

    def _lookup(self, kind: str, namespace: str, name: str) -> tuple[bool, Mapping[str, Any] | None]:
        w = self.watchers.get(kind)
        if w is None:
            return False, None
        return True, w.informer.get(convert.join_key(namespace, name))

    def _workload(self, key: writer.Key, pod: Mapping[str, Any]) -> tuple[str, str] | None:
        found = convert.pod_workload(pod, self._lookup)
        if found is convert.PENDING:
            waits = self._owner_waits.get(key, 0) + 1
            if waits <= OWNER_WAITS:
                self._owner_waits[key] = waits
                return found
            # The owner never showed up (deleted, or not readable): name the direct owner.
            found = convert.pod_workload(pod, lambda *_: (False, None))
        self._owner_waits.pop(key, None)
        return found

    async def _process(self, batch: Sequence[writer.Key]) -> dict[writer.Key, writer.Outcome]:
        outcomes: dict[writer.Key, writer.Outcome] = {}
        puts: list[tuple[writer.Key, sink.Put]] = []
        deletes: list[tuple[writer.Key, sink.Delete]] = []
        events: list[tuple[writer.Key, dict[str, Any]]] = []
        prints: dict[writer.Key, bytes] = {}
        for key in batch:
            kind, name = key
            w = self.watchers.get(kind)
            obj = w.informer.get(name) if w is not None else None
            if obj is not None and not self.filter.keep(kind, obj):
                obj = None  # filtered now (the settings changed): storage should not have it
            namespace, short = convert.split_key(name)
            if w is None or (kind == watcher.EVENT and obj is None):
                outcomes[key] = DONE  # a kind no longer watched; an expired event
            elif obj is None:
                self._owner_waits.pop(key, None)
                deletes.append((key, sink.Delete(kind, namespace, short)))
            elif kind == watcher.EVENT:
                events.append((key, convert.event_record(self.cluster_id, self.shaper.shape(kind, obj))))
            else:
                workload = self._workload(key, obj) if kind == "Pod" else None
                if workload is convert.PENDING:
                    outcomes[key] = LATER
                    continue
                data = self.shaper.shape(kind, obj, workload=workload)
                if kind in watcher.HEARTBEAT_KINDS:
                    prints[key] = convert.fingerprint(data)
                    if self._prints.get(key) == prints[key]:
                        self.metrics.dropped.labels(self.cluster_id, kind, "unchanged").inc()
                        outcomes[key] = DONE
                        continue
                puts.append((key, sink.Put(kind, namespace, short, data)))
        cid = self.cluster_id
        # Puts and deletes in one write: one outbox record for the batch.
        written = {"put": puts, "delete": deletes}
        if await self._send(
            outcomes, written, lambda: self.sink.write(cid, [p for _, p in puts], [d for _, d in deletes])
        ):
            self._prints.update({k: prints[k] for k, _ in puts if k in prints})
            for k, _ in deletes:
                self._prints.pop(k, None)
        await self._send(outcomes, {"event": events}, lambda: self.sink.put_events([e for _, e in events]))
        return outcomes

    async def _send(
        self,
        outcomes: dict[writer.Key, writer.Outcome],
        written: Mapping[str, Sequence[tuple[writer.Key, Any]]],
        call: Callable[[], Awaitable[None]],
    ) -> bool:
        """Run ``call`` for the items ``written`` (by action); record each key's outcome and the
        metrics; True if it worked."""
        keys = [key for items in written.values() for key, _ in items]
        if not keys:
            return False
        done: dict[tuple[str, str], int] = {}  # (kind, action) -> objects
        for action, items in written.items():
            for key, _ in items:
                done[key[0], action] = done.get((key[0], action), 0) + 1
        what = " and ".join(action for action, items in written.items() if items)
        try:
            # A store that hangs (a server mid-restart can hold a connection for its whole connect
            # timeout) must not hold the writer: give up, the keys are retried.
            async with asyncio.timeout(self.settings.write_timeout):
                await call()
        except Exception as e:
            for kind in {kind for kind, _ in done}:
                self.metrics.errors.labels(self.cluster_id, kind).inc()
            unexpected = not isinstance(e, errors.BcsError | TimeoutError)  # then with its traceback
            level = logging.ERROR if unexpected else logging.WARNING
            logger.log(
                level,
                "cluster %s: %s of %d object(s) failed: %s",
                self.cluster_id,
                what,
                len(keys),
                e,
                exc_info=unexpected,
            )
            outcomes.update((key, RETRY) for key in keys)
            return False
        for (kind, action), n in done.items():
            self.metrics.writes.labels(self.cluster_id, kind, action).inc(n)
        outcomes.update((key, DONE) for key in keys)
        return True
