"""The work queue: de-duplication, no concurrent processing of a key, delayed and rate-limited adds."""

from __future__ import annotations

import asyncio

import pytest

from bcs.plugins.k8s.kube import workqueue
from tests.plugins.k8s.conftest import until


async def test_duplicates_collapse_until_taken() -> None:
    q = workqueue.WorkQueue()
    for key in ("a", "b", "a", "a"):
        q.add(key)
    assert len(q) == 2
    assert [await q.get(), await q.get()] == ["a", "b"]


async def test_key_added_while_processing_comes_back_after_done() -> None:
    q = workqueue.WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # a second worker must not get it while the first still holds it
    assert len(q) == 0
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"


async def test_add_after_keeps_the_earliest_delay() -> None:
    q = workqueue.WorkQueue()
    q.add_after("a", 30.0)
    q.add_after("a", 0.05)
    q.add_after("a", 60.0)
    assert await asyncio.wait_for(q.get(), 5) == "a"
    q.done("a")
    q.shutdown()  # drops the cancelled long delays too


async def test_get_waits_for_a_key_and_shutdown_wakes_workers() -> None:
    q = workqueue.WorkQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add("x")
    assert await asyncio.wait_for(waiter, 5) == "x"
    blocked = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(workqueue.ShutDown):
        await asyncio.wait_for(blocked, 5)
    q.add("y")  # ignored once shut down
    assert len(q) == 0


async def test_rate_limited_backoff_grows_and_forget_resets() -> None:
    q = workqueue.WorkQueue(base_delay=0.01, max_delay=0.04)
    for expected in (1, 2, 3, 4):
        q.add_rate_limited("k")
        assert q.retries("k") == expected
        assert await asyncio.wait_for(q.get(), 5) == "k"
        q.done("k")
    q.forget("k")
    assert q.retries("k") == 0


async def test_backoff_stays_capped_after_thousands_of_failures() -> None:
    q = workqueue.WorkQueue(base_delay=0.01, max_delay=0.05)
    for _ in range(2000):  # would overflow float conversion of 0.01 * 2**n without a clamp
        q.add_rate_limited("k")
    assert q.retries("k") == 2000
    assert await asyncio.wait_for(q.get(), 5) == "k"
    q.done("k")


async def test_many_workers_never_share_a_key() -> None:
    q = workqueue.WorkQueue()
    active: set[str] = set()
    clashes: list[str] = []
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except workqueue.ShutDown:
                return
            if key in active:
                clashes.append(key)
            active.add(key)
            await asyncio.sleep(0.001)
            active.discard(key)
            processed.append(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for i in range(50):
        q.add(f"k{i % 5}")
        await asyncio.sleep(0)
    await until(lambda: len(q) == 0 and not active, what="queue drained")
    q.shutdown()
    await asyncio.gather(*workers)
    assert clashes == []
    assert set(processed) == {f"k{i}" for i in range(5)}
