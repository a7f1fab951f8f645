"""The RabbitMQ Bus adapter (aio-pika): durable topic exchanges, persistent messages, confirms.

One robust connection carries a publisher channel (publisher confirms on) and one channel per
subscription (so each has its own prefetch, and closing it hands unsettled deliveries back to the
broker).  aio-pika's robust connection re-opens channels, re-declares exchanges, queues and
bindings and restarts consumers after the broker comes back; it never replays publications, so a
publish that fails (broker down, connection lost before the confirm) raises PortUnavailable and
the caller retries.  A subscription's acks are sent together, once the consumer lets the loop run
(one multiple ack for the tags below every delivery still unsettled); an ack lost with its connection
is redelivered, as any unacked message.  Publishing is not ``mandatory``: a message no queue is
bound for is fine here (consumers that do not exist yet simply miss it, as in bk-bcs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

import aio_pika
import aio_pika.abc
import aio_pika.exceptions
import aiormq.abc
import yarl
from pamqp import commands as amqp

from bcs import errors
from bcs.core.bus import port

if TYPE_CHECKING:
    from bcs.config import BusSettings

__all__ = ["RabbitBus"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds for connect, declare and publish confirms
PIPELINE = 500  # publishes in flight per batch: keeps confirms pipelined without unbounded memory
RECONNECT_INTERVAL = 1.0  # seconds between reconnection attempts of the robust connection
PERSISTENT, NOT_PERSISTENT = 2, 1  # AMQP delivery modes

# What the network or the broker can throw at us; CancelledError is deliberately not here.
_FAILURES = (aio_pika.exceptions.AMQPError, ConnectionError, OSError, TimeoutError, RuntimeError)


class RabbitBus(port.Bus):
    """The production adapter. ``timeout`` bounds every broker round trip (seconds)."""

    def __init__(
        self,
        settings: BusSettings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        reconnect_interval: float = RECONNECT_INTERVAL,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self._reconnect_interval = reconnect_interval
        url = yarl.URL(settings.url)
        self._password = url.password or ""
        port_ = url.port or (5671 if url.scheme == "amqps" else 5672)
        self._where = f"{url.host}:{port_}{url.path or '/'}"  # never the credentials
        self._conn: aio_pika.abc.AbstractRobustConnection | None = None
        self._publisher: aio_pika.abc.AbstractChannel | None = None
        self._exchanges: dict[str, aio_pika.abc.AbstractExchange] = {}
        self._declare_lock = asyncio.Lock()
        self._subscriptions: set[_RabbitSubscription] = set()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        conn = aio_pika.RobustConnection(
            aio_pika.connection.make_url(self.settings.url), reconnect_interval=self._reconnect_interval
        )
        try:
            async with asyncio.timeout(self.timeout):
                await conn.connect(timeout=self.timeout)
                self._publisher = await conn.channel(publisher_confirms=True)
        except _FAILURES as e:
            await _quietly_close(conn)
            raise self._unavailable("cannot connect", e) from None
        except asyncio.CancelledError:
            await _quietly_close(conn)
            raise
        self._conn = conn

    async def close(self) -> None:
        for sub in list(self._subscriptions):
            await sub.close()
        conn, self._conn, self._publisher = self._conn, None, None
        self._exchanges.clear()
        if conn is not None:
            await _quietly_close(conn)

    async def ping(self) -> None:
        channel = self._open_publisher()
        try:
            async with asyncio.timeout(min(self.timeout, 5.0)):
                underlay = await channel.get_underlay_channel()
                # A passive declare of a built-in exchange: a broker round trip with no side effect.
                await underlay.exchange_declare(
                    "amq.topic", exchange_type="topic", durable=True, passive=True
                )
        except _FAILURES as e:
            raise self._unavailable("no answer", e) from None

    # -- publishing --------------------------------------------------------------------------------

    async def publish(self, message: port.Message) -> None:
        await self.publish_many((message,))

    async def publish_many(self, messages: Iterable[port.Message]) -> None:
        batch: list[port.Message] = []
        for message in messages:
            batch.append(message)
            if len(batch) == PIPELINE:
                await self._publish_batch(batch)
                batch = []
        if batch:
            await self._publish_batch(batch)

    async def _publish_batch(self, batch: list[port.Message]) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                for name in {m.exchange for m in batch}:
                    await self._exchange(name)
                # Straight on aio-pika's aiormq channel: an aio_pika.Message and Exchange.publish
                # cost as much CPU again as the publish itself (about 150 µs a message).
                channel = await self._open_publisher().get_underlay_channel()
                # Tasks start in order and aiormq writes frames under a FIFO lock, so the broker
                # sees this batch in order; the confirms are then awaited together.
                results = await asyncio.gather(
                    *(self._send(channel, m) for m in batch),
                    return_exceptions=True,
                )
        except aio_pika.exceptions.ChannelPreconditionFailed as e:
            raise _conflict(e) from None
        except _FAILURES as e:
            raise self._unavailable("publish failed", e) from None
        for r in results:
            if isinstance(r, asyncio.CancelledError):
                raise r
            if isinstance(r, BaseException):
                raise self._unavailable("publish failed", r) from None

    async def _send(self, channel: aiormq.abc.AbstractChannel, message: port.Message) -> None:
        properties = amqp.Basic.Properties(
            headers=dict(message.headers),
            message_id=message.message_id,
            delivery_mode=PERSISTENT if message.persistent else NOT_PERSISTENT,
        )
        # wait=False: no drain per message (the batch's confirms are what is awaited).
        await channel.basic_publish(
            message.body,
            exchange=message.exchange,
            routing_key=message.routing_key,
            properties=properties,
            wait=False,
        )

    async def _exchange(self, name: str) -> aio_pika.abc.AbstractExchange:
        channel = self._open_publisher()
        async with self._declare_lock:
            if name not in self._exchanges:
                self._exchanges[name] = await _declare_exchange(channel, name)
            return self._exchanges[name]

    # -- subscribing -------------------------------------------------------------------------------

    async def subscribe(
        self, binding: port.Binding, *, prefetch: int = port.DEFAULT_PREFETCH
    ) -> port.Subscription:
        if self._conn is None or self._conn.is_closed:
            raise errors.PortUnavailable(f"bus: not connected to {self._where}")
        channel = self._conn.channel(publisher_confirms=False)
        try:
            async with asyncio.timeout(self.timeout):
                await channel.initialize()
                await channel.set_qos(prefetch_count=prefetch)
                exchange = await _declare_exchange(channel, binding.exchange)
                if binding.queue is None:
                    # Our own name (not a server-generated one) so the robust channel can re-declare it.
                    queue = await channel.declare_queue(
                        f"bcs.sub.{uuid.uuid4().hex}", exclusive=True, auto_delete=True
                    )
                else:
                    queue = await channel.declare_queue(binding.queue, durable=True)
                await queue.bind(exchange, binding.routing_key)
                sub = _RabbitSubscription(self, channel, binding)
                await queue.consume(sub.on_message, no_ack=False)
        except aio_pika.exceptions.ChannelPreconditionFailed as e:
            await _quietly_close(channel)
            raise _conflict(e) from None
        except _FAILURES as e:
            await _quietly_close(channel)
            raise self._unavailable(
                f"cannot subscribe to {binding.exchange}/{binding.routing_key}", e
            ) from None
        except asyncio.CancelledError:
            await _quietly_close(channel)
            raise
        self._subscriptions.add(sub)
        return sub

    # -- helpers -----------------------------------------------------------------------------------

    def _open_publisher(self) -> aio_pika.abc.AbstractChannel:
        if self._conn is None or self._publisher is None:
            raise errors.PortUnavailable(f"bus: not connected to {self._where}")
        if self._conn.is_closed or self._publisher.is_closed:
            raise errors.PortUnavailable(f"bus: connection to {self._where} is down (reconnecting)")
        return self._publisher

    def _unavailable(self, what: str, e: BaseException) -> errors.PortUnavailable:
        reason = str(e) or type(e).__name__
        if self._password:
            reason = reason.replace(self._password, "***")
        return errors.PortUnavailable(f"bus: {what} ({self._where}): {reason}")


class _RabbitDelivery(port.Delivery):
    def __init__(self, sub: _RabbitSubscription, incoming: aio_pika.abc.AbstractIncomingMessage) -> None:
        super().__init__(_message(incoming), redelivered=bool(incoming.redelivered))
        self._sub = sub
        self._incoming = incoming

    async def _settle(self, *, ack: bool, requeue: bool) -> None:
        try:
            if ack:
                self._sub.ack(self._incoming)
            else:
                await self._sub.nack(self._incoming, requeue=requeue)
        except _FAILURES as e:
            raise self._sub.bus._unavailable("cannot settle a delivery; it will be redelivered", e) from None


class _Acks:
    """The delivery tags of one channel: delivered and not settled, and acked but not yet sent."""

    def __init__(self) -> None:
        self.unsettled: set[int] = set()
        self.pending: list[int] = []

    def frames(self) -> list[tuple[int, bool]]:
        """The acks to send for ``pending``, as ``(tag, multiple)``: one multiple ack for the tags
        below every unsettled one (it must not cover a delivery still being worked on), one each
        for the rest. Empties ``pending``."""
        pending, self.pending = sorted(self.pending), []
        floor = min(self.unsettled, default=None)
        below = [t for t in pending if floor is None or t < floor]
        out = [(below[-1], True)] if below else []
        return out + [(t, False) for t in pending[len(below) :]]


class _RabbitSubscription(port.Subscription):
    def __init__(self, bus: RabbitBus, channel: aio_pika.abc.AbstractChannel, binding: port.Binding) -> None:
        self.bus = bus
        self._channel = channel
        self._filter = binding.headers
        self._buffer: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage | None] = asyncio.Queue()
        self._closed = False
        self._acks: dict[aiormq.abc.AbstractChannel, _Acks] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def on_message(self, incoming: aio_pika.abc.AbstractIncomingMessage) -> None:
        if self._closed:  # left unacked: the broker requeues it when the channel closes
            return
        with contextlib.suppress(aio_pika.exceptions.ChannelInvalidStateError):  # stale: skipped
            if incoming.delivery_tag is not None:
                self._acks.setdefault(incoming.channel, _Acks()).unsettled.add(incoming.delivery_tag)
        self._buffer.put_nowait(incoming)

    # Acks are sent together: an ack is queued, and once the consumer lets the loop run, the acks
    # queued meanwhile go out as one multiple ack (a frame and a socket write each cost more than
    # the rest of a delivery). An ack lost with its connection is redelivered, as any unacked one.

    def ack(self, incoming: aio_pika.abc.AbstractIncomingMessage) -> None:
        channel, tag = incoming.channel, incoming.delivery_tag  # raises once the channel is closed
        if tag is None:
            return
        acks = self._acks.setdefault(channel, _Acks())
        acks.unsettled.discard(tag)
        acks.pending.append(tag)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush(), name="bus.acks")

    async def nack(self, incoming: aio_pika.abc.AbstractIncomingMessage, *, requeue: bool) -> None:
        channel, tag = incoming.channel, incoming.delivery_tag
        if tag is None:
            return
        if (acks := self._acks.get(channel)) is not None:
            acks.unsettled.discard(tag)
        await channel.basic_nack(delivery_tag=tag, requeue=requeue)

    async def _flush(self) -> None:
        try:
            while any(a.pending for a in self._acks.values()):
                for channel, acks in list(self._acks.items()):
                    if channel.is_closed:  # its deliveries come again on the reopened channel
                        del self._acks[channel]
                        continue
                    for tag, multiple in acks.frames():
                        await channel.basic_ack(delivery_tag=tag, multiple=multiple)
        except _FAILURES as e:  # the channel went away: what it carried is redelivered
            logger.debug("bus: acks not sent (%s); the broker redelivers those messages", e)
        finally:
            self._flusher = None

    async def __anext__(self) -> port.Delivery:
        while not self._closed:
            incoming = await self._buffer.get()
            if incoming is None:
                break
            if _stale(incoming):
                continue  # received on a channel that died since: the broker redelivers it
            if port.headers_match(self._filter, _headers(incoming)):
                return _RabbitDelivery(self, incoming)
            with contextlib.suppress(*_FAILURES):
                self.ack(incoming)  # filtered out: acked and skipped
        self._buffer.put_nowait(None)  # wake any other waiter too
        raise StopAsyncIteration

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._buffer.put_nowait(None)
        self.bus._subscriptions.discard(self)
        if self._flusher is not None:  # what was acked is acked before the channel closes
            await asyncio.wait([self._flusher])
        await _quietly_close(self._channel)


def _conflict(e: aio_pika.exceptions.ChannelPreconditionFailed) -> errors.Conflict:
    # The exchange or queue exists with other properties (type, durability): a configuration
    # problem that retrying cannot fix, so not PortUnavailable.
    return errors.Conflict(f"bus: an exchange or queue exists with other properties: {e}")


def _stale(incoming: aio_pika.abc.AbstractIncomingMessage) -> bool:
    try:
        incoming.channel  # noqa: B018 - the property raises once the channel is closed
    except aio_pika.exceptions.ChannelInvalidStateError:
        return True
    return False


def _headers(incoming: aio_pika.abc.AbstractIncomingMessage) -> dict[str, str]:
    out = {}
    for k, v in (incoming.headers or {}).items():
        out[k] = v.decode() if isinstance(v, bytes) else str(v)
    return out


def _message(incoming: aio_pika.abc.AbstractIncomingMessage) -> port.Message:
    return port.Message(
        exchange=incoming.exchange or "",
        routing_key=incoming.routing_key or "",
        headers=_headers(incoming),
        body=incoming.body,
        message_id=incoming.message_id or "",
        persistent=incoming.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
    )


async def _declare_exchange(
    channel: aio_pika.abc.AbstractChannel, name: str
) -> aio_pika.abc.AbstractExchange:
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


async def _quietly_close(
    closable: aio_pika.abc.AbstractRobustConnection | aio_pika.abc.AbstractChannel,
) -> None:
    # Closing is best effort: the broker may be gone, and then there is nothing left to release.
    with contextlib.suppress(*_FAILURES):
        await closable.close()
