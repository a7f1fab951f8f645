"""The Mesos data watch: the scheduler's applications, taskgroups and deployments into storage.

Every ``interval`` seconds the scheduler's records are rendered (:mod:`.convert`) and compared with
what was last written: changed objects are PUT, vanished ones deleted, all of a pass in one
storage write (one outbox record; a pass that fails is retried whole). As upstream's
bcs-mesos-watch, every object is re-PUT every ``refresh`` seconds even when unchanged (refreshing
``updateTime``), and rows not refreshed for ``dirty_after`` seconds are purged, so a watch that
died, or a scheduler whose state was wiped, never leaves stale rows behind.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from typing import TYPE_CHECKING, Any

from bcs import errors
from bcs.plugins.mesos import convert
from bcs.storage.service import documents
from bcs.storage.store import conditions as c

if TYPE_CHECKING:
    from bcs.plugins.mesos.scheduler import Scheduler

__all__ = ["DataWatch"]

logger = logging.getLogger(__name__)
TYPES = ("application", "taskgroup", "deployment", "configmap", "secret", "service")


class DataWatch:
    def __init__(
        self,
        sched: Scheduler,
        storage: Any,
        *,
        interval: float = 0.5,
        refresh: float = 240.0,
        dirty_after: float = 600.0,
    ) -> None:
        self.sched = sched
        self.storage = storage
        self.interval = interval
        self.refresh = refresh
        self.dirty_after = dirty_after
        self._sent: dict[tuple[str, str, str], tuple[dict[str, Any], float]] = {}
        self._last_purge = time.monotonic()
        self.syncs = 0

    def snapshot(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        s = self.sched
        out: dict[tuple[str, str, str], dict[str, Any]] = {}
        for (ns, name), app in s.apps.items():
            if not app.deleting:
                out[("application", ns, name)] = convert.app_doc(s, app)
        for tg in s.taskgroups.values():
            out[("taskgroup", tg.namespace, tg.id)] = convert.taskgroup_doc(tg, cluster_id=s.cluster_id)
        for (ns, name), dep in s.deployments.items():
            out[("deployment", ns, name)] = convert.deployment_doc(s, dep)
        for (kind, ns, name), raw in s.objects.items():
            out[(kind, ns, name)] = dict(raw)
        return out

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except errors.BcsError as e:
                logger.warning("mesos data watch %s: %s (retrying)", self.sched.cluster_id, e)
            await asyncio.sleep(self.interval)

    async def sync(self) -> None:
        now = time.monotonic()
        current = self.snapshot()
        cluster = self.sched.cluster_id
        puts = [
            documents.Resource(cluster_id=cluster, resource_type=k[0], namespace=k[1], name=k[2], data=doc)
            for k, doc in current.items()
            if k not in self._sent or self._sent[k][0] != doc or now - self._sent[k][1] > self.refresh
        ]
        vanished = [k for k in self._sent if k not in current]
        if puts or vanished:
            # One write (one outbox record) for the whole pass; a failed one is retried whole.
            gone = [
                {"clusterId": cluster, "namespace": ns, "resourceType": kind, "resourceName": name}
                for kind, ns, name in vanished
            ]
            await self.storage.write_resources(puts, gone=gone)
            for r in puts:
                self._sent[(r.resource_type, r.namespace or "", r.name)] = (dict(r.data), now)
            for key in vanished:
                del self._sent[key]
        if now - self._last_purge > self.refresh:
            self._last_purge = now
            await self.purge_dirty()
        self.syncs += 1

    async def purge_dirty(self) -> None:
        """Delete rows of this cluster not refreshed for ``dirty_after`` seconds."""
        end = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=self.dirty_after)
        for kind in TYPES:
            await self.storage.delete_resources(kind, c.Eq("clusterId", self.sched.cluster_id), end=end)
