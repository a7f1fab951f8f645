"""Sharded writers: one object's writes never overlap and a burst becomes one write; different objects
are written in parallel; failures are retried; "later" comes back later."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest

from bcs.plugins.k8s.datawatch import writer
from tests.services import eventually

Key = writer.Key


class Recorder:
    """A ``process`` function: records batches, can be held, fails or defers on demand."""

    def __init__(self) -> None:
        self.batches: list[list[Key]] = []
        self.in_flight: set[Key] = set()
        self.overlaps = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = 0
        self.answers: dict[Key, list[writer.Outcome]] = {}

    async def __call__(self, batch: Sequence[Key]) -> dict[Key, writer.Outcome]:
        self.overlaps += len(self.in_flight & set(batch))
        self.in_flight |= set(batch)
        try:
            self.batches.append(list(batch))
            await self.gate.wait()
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("store down")
            return {k: (self.answers.get(k) or [writer.Outcome.DONE]).pop(0) for k in batch}
        finally:
            self.in_flight -= set(batch)

    def count(self, key: Key) -> int:
        return sum(b.count(key) for b in self.batches)


@contextlib.asynccontextmanager
async def running(shards: writer.Shards) -> AsyncIterator[writer.Shards]:
    task = asyncio.create_task(shards.run(), name="test.shards")
    try:
        yield shards
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_burst_on_one_object_is_written_once_after_the_write_in_progress() -> None:
    rec = Recorder()
    done: list[tuple[Key, float]] = []
    async with running(writer.Shards(2, rec, on_done=lambda k, lag: done.append((k, lag)))) as shards:
        key = ("Pod", "a/p")
        rec.gate.clear()
        shards.add(key)
        await eventually(lambda: rec.in_flight, what="the first write")
        for _ in range(50):
            shards.add(key)  # while the first write is in flight
        assert key in shards
        rec.gate.set()
        await eventually(shards.idle, what="the queue emptying")
        assert rec.count(key) == 2
        assert rec.overlaps == 0
        assert [k for k, _ in done] == [key, key]
        assert all(lag >= 0 for _, lag in done)


async def test_objects_on_different_shards_are_written_in_parallel() -> None:
    rec = Recorder()
    rec.gate.clear()
    async with running(writer.Shards(8, rec)) as shards:
        keys = [("Pod", f"a/p{i}") for i in range(40)]
        for key in keys:
            shards.add(key)
        # Every shard's writer holds a batch at once: more than one batch in flight.
        await eventually(lambda: len(rec.batches) > 1, what="parallel batches")
        assert sum(len(b) for b in rec.batches) == 40
        assert {shards.queue_of(b[0]).name for b in rec.batches} == {q.name for q in shards.queues if q.name}
        rec.gate.set()
        await eventually(shards.idle, what="all written")
        assert sorted(k for b in rec.batches for k in b) == sorted(keys)


async def test_failed_batches_and_retry_answers_come_back() -> None:
    rec = Recorder()
    async with running(writer.Shards(1, rec, retry_base=0.01, retry_max=0.05)) as shards:
        rec.fail_next = 2
        shards.add(("Pod", "a/x"))
        shards.add(("Pod", "a/y"))
        await eventually(shards.idle, what="written after two failures")
        assert rec.count(("Pod", "a/x")) == 3
        rec.answers[("Pod", "a/z")] = [writer.Outcome.RETRY, writer.Outcome.RETRY, writer.Outcome.DONE]
        shards.add(("Pod", "a/z"))
        await eventually(shards.idle, what="written after two retries")
        assert rec.count(("Pod", "a/z")) == 3
        assert shards.depths() == {}


async def test_later_comes_back_after_a_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "LATER_DELAY", 0.05)
    rec = Recorder()
    async with running(writer.Shards(1, rec)) as shards:
        key = ("Pod", "a/orphan")
        rec.answers[key] = [writer.Outcome.LATER, writer.Outcome.DONE]
        shards.add(key)
        await eventually(shards.idle, what="written on the second look")
        assert rec.count(key) == 2
