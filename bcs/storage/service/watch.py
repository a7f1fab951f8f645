"""Watch streams fed by the bus, so a watcher sees the writes of every ``bcs`` process.

Every committed change reaches the internal exchange ``<exchange>.watch`` through the outbox (all
resource types, not only ``publish_resources``: the public exchange keeps its exact contract, and
its consumers never see these). Routing keys are ``d.<clusterId>.<resourceType>`` for resources and
``e.<clusterId>`` for events; the exact ids travel in headers, which subscriptions filter on.

The hub keeps one subscription (an exclusive, auto-deleted queue) per watched key and process,
shared by every stream open on that key and closed with the last one. Its reader fans each delivery
out to the streams' bounded queues and never waits for a stream: a stream that falls
:data:`STREAM_BACKLOG` events behind is ended (its client gets WatchBreak and re-watches) instead of
stalling the others (upstream bk-bcs#220). A message carries the changes of one published batch;
redeliveries are dropped by change id.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

import attrs
import orjson

from bcs import errors
from bcs.core import bus as bus_port
from bcs.core import tasks
from bcs.storage.service import messages

__all__ = ["STREAM_BACKLOG", "WatchEvent", "WatchHub", "WatchStream"]

logger = logging.getLogger(__name__)

STREAM_BACKLOG = 1000  # events a stream may hold before it is ended as too slow
SEEN_IDS = 4096  # message ids remembered per subscription to drop redeliveries


@attrs.frozen
class WatchEvent:
    """One change as a watch stream sends it: ``{"type": type, "value": value}``."""

    type: int
    value: Any


@attrs.frozen
class _Key:
    kind: str
    cluster_id: str | None
    resource_type: str | None

    def binding(self, exchange: str) -> bus_port.Binding:
        headers = {}
        if self.cluster_id is not None:
            headers["clusterId"] = self.cluster_id
        if self.resource_type is not None:
            headers["resourceType"] = self.resource_type
        routing_key = messages.watch_routing_key(self.kind, self.cluster_id, self.resource_type)
        return bus_port.Binding(exchange=exchange, routing_key=routing_key, headers=headers)


class WatchStream:
    """The events of one watcher; iterate with :meth:`next`, then :meth:`WatchHub.release` it."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self._queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self.ended = False
        self.reason = ""

    def offer(self, event: WatchEvent) -> None:
        if self.ended:
            return
        if self._queue.qsize() >= STREAM_BACKLOG:
            self.end(f"the watcher fell {STREAM_BACKLOG} events behind")
            return
        self._queue.put_nowait(event)

    def end(self, reason: str) -> None:
        if not self.ended:
            self.ended, self.reason = True, reason
            self._queue.put_nowait(None)

    async def next(self, *, timeout: float) -> WatchEvent | None:
        """The next event; None when ``timeout`` passes first. Raises EOFError once the stream ended."""
        if self.ended and self._queue.empty():
            raise EOFError(self.reason)
        try:
            async with asyncio.timeout(timeout):
                event = await self._queue.get()
        except TimeoutError:
            return None
        if event is None:
            self._queue.put_nowait(None)  # stay ended for the next call
            raise EOFError(self.reason)
        return event


class _Feed:
    def __init__(self, key: _Key, subscription: bus_port.Subscription) -> None:
        self.key = key
        self.subscription = subscription
        self.streams: set[WatchStream] = set()
        self.seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.task: asyncio.Task[None] | None = None

    def fresh(self, message_id: str) -> bool:
        if message_id in self.seen:
            return False
        self.seen[message_id] = None
        if len(self.seen) > SEEN_IDS:
            self.seen.popitem(last=False)
        return True

    async def read(self) -> None:
        reason = "the bus subscription ended"
        try:
            async for delivery in self.subscription:
                with contextlib.suppress(errors.PortUnavailable):  # redelivered later: deduplicated
                    await delivery.ack()
                message = delivery.message
                try:
                    changes = [(i["id"], int(i["type"]), i["value"]) for i in orjson.loads(message.body)]
                except (KeyError, TypeError, ValueError) as e:
                    logger.warning("watch: dropping a malformed message %s: %s", message.message_id, e)
                    continue
                for change_id, wtype, value in changes:
                    if self.fresh(change_id):  # per change: a retried batch may be grouped differently
                        event = WatchEvent(wtype, value)
                        for stream in list(self.streams):
                            stream.offer(event)
        except errors.PortUnavailable as e:
            reason = f"the bus failed: {e.message}"
        finally:
            for stream in list(self.streams):
                stream.end(reason)


class WatchHub:
    """Opens watch streams on the internal watch exchange of ``exchange``."""

    def __init__(self, bus: bus_port.Bus, *, exchange: str) -> None:
        self.bus = bus
        self.exchange = messages.watch_exchange(exchange)
        self._feeds: dict[_Key, _Feed] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    async def open(self, kind: str, cluster_id: str | None, resource_type: str | None = None) -> WatchStream:
        """A stream of the changes to ``resource_type`` in ``cluster_id`` (None: any), from now on.

        The subscription exists when this returns, so every change committed afterwards is seen.
        Raises PortUnavailable when the bus is down.
        """
        key = _Key(kind, cluster_id, resource_type if kind == messages.RESOURCE else None)
        async with self._lock:
            if self._closed:
                raise errors.PortUnavailable("storage: the service is shutting down")
            feed = self._feeds.get(key)
            if feed is None or feed.task is None or feed.task.done():
                subscription = await self.bus.subscribe(key.binding(self.exchange))
                feed = _Feed(key, subscription)
                feed.task = tasks.create_guarded_task(
                    name=f"storage.watch[{key.kind}:{key.cluster_id}:{key.resource_type}]",
                    coro=feed.read(),
                    eternal=False,
                )
                self._feeds[key] = feed
            stream = WatchStream(key)
            feed.streams.add(stream)
            return stream

    async def release(self, stream: WatchStream) -> None:
        """Close ``stream``; the last stream of a key closes its subscription."""
        stream.end("closed")
        async with self._lock:
            feed = self._feeds.get(stream.key)
            if feed is None:
                return
            feed.streams.discard(stream)
            if not feed.streams:
                del self._feeds[stream.key]
                await self._stop(feed)

    async def close(self) -> None:
        """End every stream (their clients get WatchBreak) and close every subscription."""
        async with self._lock:
            self._closed = True
            feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            for stream in list(feed.streams):
                stream.end("the server is shutting down")
            await self._stop(feed)

    @staticmethod
    async def _stop(feed: _Feed) -> None:
        with contextlib.suppress(errors.PortUnavailable):
            await feed.subscription.close()
        if feed.task is not None:
            await tasks.stop_tasks([feed.task], timeout=5.0)
