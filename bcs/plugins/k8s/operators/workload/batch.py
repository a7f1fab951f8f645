"""Many pod writes of one pass, a few at a time (each is an API round trip; one after another, a
1,000-pod wave would spend most of its time waiting).

:func:`slow_start` is the Kubernetes controllers' pattern for creates: batches of 1, 2, 4, ... so a
failing create (quota, a bad template) costs one call, not hundreds. :func:`limited` runs
independent writes (deletes, in-place patches) with bounded concurrency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["CONCURRENCY", "slow_start", "limited"]

T = TypeVar("T")
R = TypeVar("R")

CONCURRENCY = 16  # pod writes in flight per pass


async def _batch(items: Sequence[T], fn: Callable[[T], Awaitable[R]]) -> list[R]:
    """``fn`` over ``items`` at once; every call finishes before the first error is raised."""
    results = await asyncio.gather(*(fn(item) for item in items), return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]


async def limited(
    items: Sequence[T], fn: Callable[[T], Awaitable[R]], *, limit: int = CONCURRENCY
) -> list[R]:
    """``fn`` over ``items``, at most ``limit`` at a time, results in order; stops after a failing batch."""
    out: list[R] = []
    for i in range(0, len(items), max(limit, 1)):
        out += await _batch(items[i : i + limit], fn)
    return out


async def slow_start(count: int, fn: Callable[[int], Awaitable[None]], *, limit: int = CONCURRENCY) -> None:
    """``fn(0) .. fn(count-1)`` in batches of 1, 2, 4, ... (at most ``limit``); stops at a failing batch."""
    done, size = 0, 1
    while done < count:
        n = min(size, count - done, limit)
        await _batch(range(done, done + n), fn)
        done += n
        size *= 2
