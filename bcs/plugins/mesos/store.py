"""Scheduler state on the KV port, in the layout of upstream's ZooKeeper tree (bk-bcs §6.5).

Under ``<kv prefix>mesos/<clusterID>/blueking/``:
``application/<ns>/<app>`` (application), ``application/<ns>/<app>/<taskgroupID>`` (taskgroup, its
tasks embedded), ``version/<ns>/<app>/<n>`` (each submitted definition), ``deployment/<ns>/<name>``,
``configmap|secret|service/<ns>/<name>``, ``framework`` (the framework id).

Writes are coalesced: :meth:`StateStore.put` records the latest value of a key and a flusher writes
it; :meth:`StateStore.flush` waits until everything recorded so far is written (the scheduler flushes
before every ACCEPT, so a launched taskgroup is always on record first and a restart never launches
it twice).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from bcs import errors
from bcs.core import kv as kv_mod

__all__ = ["StateStore"]

logger = logging.getLogger(__name__)
_DELETE = object()


class StateStore:
    def __init__(self, kv: kv_mod.KV, *, prefix: str, cluster_id: str) -> None:
        self.kv = kv
        self.root = f"{prefix}mesos/{cluster_id}/blueking/"
        self._dirty: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self.writes = 0

    # -- keys ------------------------------------------------------------------------------------

    def app_key(self, namespace: str, name: str) -> str:
        return f"{self.root}application/{namespace}/{name}"

    def taskgroup_key(self, namespace: str, app: str, taskgroup_id: str) -> str:
        return f"{self.root}application/{namespace}/{app}/{taskgroup_id}"

    def key(self, kind: str, namespace: str, name: str) -> str:
        return f"{self.root}{kind}/{namespace}/{name}"

    # -- writes ------------------------------------------------------------------------------------

    def put(self, key: str, value: Any) -> None:
        self._dirty[key] = value

    def delete(self, key: str) -> None:
        self._dirty[key] = _DELETE

    @property
    def pending(self) -> int:
        return len(self._dirty)

    async def flush(self) -> None:
        """Write everything recorded so far (later puts of the same key win)."""
        async with self._lock:
            while self._dirty:
                batch, self._dirty = self._dirty, {}
                try:
                    await asyncio.gather(*(self._write(k, v) for k, v in batch.items()))
                except errors.PortUnavailable:
                    # Keep what failed (unless rewritten since) for the next flush.
                    for k, v in batch.items():
                        self._dirty.setdefault(k, v)
                    raise

    async def _write(self, key: str, value: Any) -> None:
        self.writes += 1
        if value is _DELETE:
            await self.kv.delete(key)
        else:
            await self.kv.put(key, orjson.dumps(value))

    async def delete_prefix_now(self, prefix: str) -> None:
        await self.flush()
        await self.kv.delete_prefix(prefix)

    # -- reads -------------------------------------------------------------------------------------

    async def load(self) -> dict[str, dict[str, Any]]:
        """Everything under the root, by key relative to it (call before writing)."""
        out = {}
        for item in await self.kv.range(self.root):
            try:
                out[item.key[len(self.root) :]] = orjson.loads(item.value)
            except orjson.JSONDecodeError:
                logger.warning("mesos state: skipping undecodable key %s", item.key)
        return out

    async def framework_id(self) -> str:
        item = await self.kv.get(self.root + "framework")
        return orjson.loads(item.value).get("id", "") if item is not None else ""

    def set_framework_id(self, framework_id: str) -> None:
        self.put(self.root + "framework", {"id": framework_id})
