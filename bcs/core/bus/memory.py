"""The in-process Bus: RabbitMQ topic-exchange semantics inside one event loop (the embedded default).

Each subscription reads a queue; a message is copied into every queue with a matching binding
(once per queue).  Named queues outlive their subscriptions and keep collecting; anonymous ones
die with them.  Unsettled deliveries go back to their queue in their original order, flagged
``redelivered``.  Memory is bounded: a publish that would push any queue past ``max_backlog`` ready
messages raises PortUnavailable instead of dropping anything (as a RabbitMQ memory alarm blocks
publishers), so the caller's outbox retries later.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from bcs import errors
from bcs.core.bus import port

if TYPE_CHECKING:
    from bcs.config import BusSettings

__all__ = ["MemoryBus"]

DEFAULT_MAX_BACKLOG = 10_000


@attrs.define(eq=False)
class _Entry:
    message: port.Message
    seq: int  # bus-wide publication order; requeued entries go back to their place by it
    redelivered: bool = False


class _Queue:
    def __init__(self, name: str, *, durable: bool) -> None:
        self.name = name
        self.durable = durable
        self.bindings: set[tuple[str, str]] = set()  # (exchange, routing-key pattern)
        self.ready: collections.deque[_Entry] = collections.deque()
        self.changed = asyncio.Condition()

    def routes(self, message: port.Message) -> bool:
        return any(
            exchange == message.exchange and port.topic_matches(pattern, message.routing_key)
            for exchange, pattern in self.bindings
        )

    def requeue(self, entries: Iterable[_Entry]) -> None:
        back = sorted(entries, key=lambda e: e.seq)
        for e in back:
            e.redelivered = True
        if not self.ready or (back and back[-1].seq < self.ready[0].seq):
            self.ready.extendleft(reversed(back))
        else:
            self.ready = collections.deque(sorted(itertools.chain(back, self.ready), key=lambda e: e.seq))

    async def wake(self) -> None:
        async with self.changed:
            self.changed.notify_all()


class _MemoryDelivery(port.Delivery):
    def __init__(self, sub: _MemorySubscription, entry: _Entry) -> None:
        # A private copy of the headers, so one consumer cannot change what another sees.
        super().__init__(attrs.evolve(entry.message), redelivered=entry.redelivered)
        self._sub = sub
        self._entry = entry

    async def _settle(self, *, ack: bool, requeue: bool) -> None:
        await self._sub.settle(self._entry, ack=ack, requeue=requeue)


class _MemorySubscription(port.Subscription):
    def __init__(self, bus: MemoryBus, queue: _Queue, binding: port.Binding, prefetch: int) -> None:
        self._bus = bus
        self._queue = queue
        self._filter = binding.headers
        self._prefetch = prefetch
        self._unacked: dict[int, _Entry] = {}
        self._closed = False

    def _can_take(self) -> bool:
        room = not self._prefetch or len(self._unacked) < self._prefetch
        return self._closed or (bool(self._queue.ready) and room)

    async def __anext__(self) -> port.Delivery:
        q = self._queue
        while True:
            async with q.changed:
                await q.changed.wait_for(self._can_take)
                if self._closed:
                    raise StopAsyncIteration
                entry = q.ready.popleft()
            if port.headers_match(self._filter, entry.message.headers):
                self._unacked[entry.seq] = entry
                return _MemoryDelivery(self, entry)
            # Filtered out: acked and skipped, as the RabbitMQ adapter does.

    async def settle(self, entry: _Entry, *, ack: bool, requeue: bool) -> None:
        if self._closed:
            raise errors.PortUnavailable(
                f"bus: subscription on {self._queue.name!r} is closed; the delivery was requeued"
            )
        del self._unacked[entry.seq]
        if not ack and requeue:
            self._queue.requeue([entry])
        await self._queue.wake()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        q = self._queue
        if q.durable:
            q.requeue(self._unacked.values())
        else:
            self._bus._drop_queue(q)
        self._unacked.clear()
        self._bus._subscriptions.discard(self)
        await q.wake()


class MemoryBus(port.Bus):
    """The in-process adapter. ``max_backlog`` bounds each queue's ready messages."""

    def __init__(
        self, settings: BusSettings | None = None, *, max_backlog: int = DEFAULT_MAX_BACKLOG
    ) -> None:
        self.settings = settings
        self.max_backlog = max_backlog
        self._named: dict[str, _Queue] = {}
        self._anonymous: set[_Queue] = set()
        self._subscriptions: set[_MemorySubscription] = set()
        self._seq = itertools.count(1)
        self._anon_names = itertools.count(1)
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._subscriptions):
            await sub.close()
        self._named.clear()
        self._anonymous.clear()

    async def ping(self) -> None:
        self._check_open()

    async def publish(self, message: port.Message) -> None:
        self._check_open()
        targets = [q for q in itertools.chain(self._named.values(), self._anonymous) if q.routes(message)]
        for q in targets:
            if len(q.ready) >= self.max_backlog:
                raise errors.PortUnavailable(
                    f"bus: queue {q.name!r} holds {len(q.ready)} undelivered messages (the limit)"
                )
        seq = next(self._seq)
        for q in targets:
            q.ready.append(_Entry(message, seq))
            await q.wake()

    async def publish_many(self, messages: Iterable[port.Message]) -> None:
        for message in messages:
            await self.publish(message)

    async def subscribe(
        self, binding: port.Binding, *, prefetch: int = port.DEFAULT_PREFETCH
    ) -> port.Subscription:
        self._check_open()
        if binding.queue is None:
            queue = _Queue(f"memory.anonymous.{next(self._anon_names)}", durable=False)
            self._anonymous.add(queue)
        else:
            queue = self._named.get(binding.queue) or _Queue(binding.queue, durable=True)
            self._named[binding.queue] = queue
        queue.bindings.add((binding.exchange, binding.routing_key))
        sub = _MemorySubscription(self, queue, binding, prefetch)
        self._subscriptions.add(sub)
        return sub

    def _drop_queue(self, queue: _Queue) -> None:
        self._anonymous.discard(queue)

    def _check_open(self) -> None:
        if self._closed:
            raise errors.PortUnavailable("bus: the in-process bus is closed")
