"""cancel_and_wait: the tasks end, and a cancellation of the caller is never swallowed."""

from __future__ import annotations

import asyncio

import pytest

from bcs.core import tasks


async def test_cancel_and_wait_ends_the_tasks_and_drops_their_errors() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    failed = asyncio.create_task(fails())
    await asyncio.wait([failed])
    forever = asyncio.create_task(asyncio.Event().wait())
    await tasks.cancel_and_wait(forever, failed, None)
    assert forever.cancelled()


async def test_the_callers_cancellation_propagates_while_it_waits() -> None:
    release = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await release.wait()  # cleanup that takes a while

    child = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    stopper = asyncio.create_task(tasks.cancel_and_wait(child))
    await asyncio.sleep(0)
    stopper.cancel()  # the caller itself is cancelled while the child is still cleaning up
    with pytest.raises(asyncio.CancelledError):
        await stopper
    release.set()
    await asyncio.wait([child])
    assert child.cancelled()
