"""Sharded writers: per-object order, parallel across objects, bursts collapsed (level-triggered).

Keys ``(kind, "ns/name")`` are spread over ``n`` work queues by a stable hash, one writer task per
queue (upstream shards Pods and Events the same way, BKDR hash modulo the handler count). A queue
de-duplicates a key until a writer takes it, and never hands a key out again before the writer is
done with it, so the writes of one object are serial and a burst of changes becomes one write of
the latest state. Each writer takes every key ready in its queue (up to ``batch_size``) and hands the
batch to ``process``, which answers per key: done, retry (per-key exponential backoff) or later
(a fixed delay, e.g. a Pod whose owner is not cached yet). When ``process`` raises, every key of the
batch is retried and the writer itself pauses with backoff, so an unavailable store is not spun on.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence

from bcs.plugins.k8s.kube import workqueue

__all__ = ["Key", "Outcome", "Shards"]

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (kind, informer key)
LATER_DELAY = 1.0  # seconds before a key answered LATER is looked at again


class Outcome(enum.Enum):
    DONE = "done"
    RETRY = "retry"
    LATER = "later"


Process = Callable[[Sequence[Key]], Awaitable[Mapping[Key, Outcome]]]
Done = Callable[[Key, float], None]  # (key, seconds since it was first queued)


class Shards:
    """``n`` work queues with one writer each; see the module docstring."""

    def __init__(
        self,
        n: int,
        process: Process,
        *,
        batch_size: int = 500,
        retry_base: float = 1.0,
        retry_max: float = 32.0,
        on_done: Done | None = None,
        name: str = "",
    ) -> None:
        self.process = process
        self.batch_size = batch_size
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.on_done = on_done
        self.queues = [
            workqueue.WorkQueue(base_delay=retry_base, max_delay=retry_max, name=f"{name}#{i}")
            for i in range(n)
        ]
        self._since: dict[Hashable, float] = {}  # key -> when it was first queued since its last write
        self._taken: set[Hashable] = set()  # keys a writer is working on
        self._again: dict[Hashable, float] = {}  # taken keys changed meanwhile -> when

    def queue_of(self, key: Key) -> workqueue.WorkQueue:
        digest = zlib.crc32(f"{key[0]}/{key[1]}".encode())
        return self.queues[digest % len(self.queues)]

    def add(self, key: Key) -> None:
        now = time.monotonic()
        if key in self._taken:
            self._again.setdefault(key, now)
        else:
            self._since.setdefault(key, now)
        self.queue_of(key).add(key)

    def __contains__(self, key: Key) -> bool:
        return key in self.queue_of(key)

    def depths(self) -> dict[str, int]:
        """Keys queued (not yet taken by a writer), by kind."""
        out: dict[str, int] = {}
        for q in self.queues:
            for key in q.queued():
                kind = key[0]  # type: ignore[index]
                out[kind] = out.get(kind, 0) + 1
        return out

    def depth(self) -> int:
        return sum(len(q) for q in self.queues)

    def idle(self) -> bool:
        """Nothing queued, in progress or waiting for a retry."""
        return not self._since

    async def run(self) -> None:
        """Run the writers until cancelled (or :meth:`shutdown`)."""
        writers = [
            asyncio.create_task(self._writer(q), name=f"datawatch writer {q.name}") for q in self.queues
        ]
        try:
            await asyncio.gather(*writers)
        finally:
            for task in writers:
                task.cancel()
            for task in writers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def shutdown(self) -> None:
        for q in self.queues:
            q.shutdown()

    async def _writer(self, q: workqueue.WorkQueue) -> None:
        failures = 0
        while True:
            try:
                batch: list[Key] = [await q.get()]  # type: ignore[list-item]
            except workqueue.ShutDown:
                return
            while len(q) and len(batch) < self.batch_size:
                batch.append(await q.get())  # type: ignore[arg-type]
            self._taken.update(batch)
            try:
                outcomes = await self.process(batch)
            except asyncio.CancelledError:
                self._settle(q, batch, {})
                raise
            except Exception as e:
                logger.warning("writer %s: %d object(s) not written: %s", q.name, len(batch), e)
                outcomes = {}
            self._settle(q, batch, outcomes)
            if any(outcomes.get(k, Outcome.RETRY) is Outcome.RETRY for k in batch):
                # Storage is failing: pause this writer too, not only the keys, so it is not spun on.
                failures += 1
                await asyncio.sleep(min(self.retry_base * 2 ** (failures - 1), self.retry_max))
            else:
                failures = 0

    def _settle(self, q: workqueue.WorkQueue, batch: Sequence[Key], outcomes: Mapping[Key, Outcome]) -> None:
        now = time.monotonic()
        for key in batch:
            self._taken.discard(key)
            again = self._again.pop(key, None)
            outcome = outcomes.get(key, Outcome.RETRY)
            if outcome is Outcome.DONE:
                q.forget(key)
                since = self._since.pop(key, now)
                if again is not None:  # changed while being written: pending again since then
                    self._since[key] = again
                if self.on_done is not None:
                    self.on_done(key, now - since)
            elif outcome is Outcome.LATER:
                q.add_after(key, LATER_DELAY)
            else:
                q.add_rate_limited(key)
            q.done(key)
