"""A de-duplicating, rate-limited work queue with delayed requeue (client-go's ``workqueue``).

Semantics, as in client-go:

* a key added several times before a worker takes it is processed once (``dirty`` set);
* a key is never handed to two workers at once: added while being processed, it is queued again
  when the worker calls :meth:`WorkQueue.done`;
* :meth:`WorkQueue.add_after` delays an add; of several pending delays for one key the earliest wins;
* :meth:`WorkQueue.add_rate_limited` delays by a per-key exponential backoff that :meth:`forget` resets.

Worker loop::

    while True:
        key = await queue.get()          # raises ShutDown once shut down and drained
        try:
            ...; queue.forget(key)
        except Exception:
            queue.add_rate_limited(key)
        finally:
            queue.done(key)
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Hashable

__all__ = ["ShutDown", "WorkQueue"]


class ShutDown(Exception):
    """The queue was shut down: workers should return."""


class WorkQueue:
    """Keys in, keys out; see the module docstring for the guarantees."""

    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 300.0, name: str = "") -> None:
        self.name = name
        self.base_delay = base_delay  # seconds, first rate-limited retry
        self.max_delay = max_delay  # seconds, cap of the per-key backoff
        self._queue: collections.deque[Hashable] = collections.deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._waiting: dict[Hashable, tuple[float, asyncio.TimerHandle]] = {}
        self._ready = asyncio.Event()  # set whenever a key may be available (or on shutdown)
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` is queued, being processed, or waiting for a delayed add."""
        return key in self._dirty or key in self._processing or key in self._waiting

    def queued(self) -> list[Hashable]:
        """The keys queued now, in order (not those being processed or delayed)."""
        return list(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutdown

    def add(self, key: Hashable) -> None:
        """Queue ``key`` now unless it is already queued (or being processed: then after ``done``)."""
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds; an earlier pending delay for the key is kept."""
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        self._waiting[key] = (when, loop.call_at(when, self._fire, key))

    def add_rate_limited(self, key: Hashable) -> None:
        """Queue ``key`` after its backoff: ``base_delay * 2**failures``, capped at ``max_delay``."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        # Clamp the exponent: 2**n past ~1,000 failures no longer converts to a float.
        self.add_after(key, min(self.base_delay * (2 ** min(n, 60)), self.max_delay))

    def forget(self, key: Hashable) -> None:
        """Reset ``key``'s backoff (call after a successful processing)."""
        self._failures.pop(key, None)

    def retries(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> Hashable:
        """The next key, waiting for one; raises :class:`ShutDown` once shut down and drained."""
        while not self._queue and not self._shutdown:
            self._ready.clear()
            await self._ready.wait()
        if not self._queue:
            raise ShutDown(self.name)
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: Hashable) -> None:
        """Mark ``key`` processed; if it was added meanwhile it is queued again now."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    def shutdown(self) -> None:
        """Stop accepting keys, drop delayed ones and wake every waiting worker."""
        self._shutdown = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._queue.clear()
        self._dirty.clear()
        self._notify()

    def _fire(self, key: Hashable) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def _notify(self) -> None:
        self._ready.set()
