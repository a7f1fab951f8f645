"""The Bus port's abstract classes and value types; :func:`open_bus` picks the adapter from settings.

The shape is RabbitMQ's: publishers send a :class:`Message` to a named topic exchange with a routing
key; consumers :meth:`Bus.subscribe` with a :class:`Binding` (exchange, routing-key pattern, queue)
and receive :class:`Delivery` objects that they settle with ``ack()`` or ``nack()``.

Delivery is at-least-once: a delivery that is not acked (nacked with ``requeue=True``, or left
unsettled when its subscription closes) comes back with ``redelivered=True``, so consumers must be
idempotent, deduplicating on :attr:`Message.message_id` where it matters.  Only a *named* queue
outlives its subscription; an anonymous queue lives exactly as long as its subscription.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from bcs.core import ports

if TYPE_CHECKING:
    from bcs.config import BusSettings

__all__ = [
    "Binding",
    "Bus",
    "Delivery",
    "Message",
    "Subscription",
    "headers_match",
    "open_bus",
    "topic_matches",
]

DEFAULT_PREFETCH = 30  # bk-bcs `ExchangePrefetchCount`


def _str_mapping(value: Mapping[str, str]) -> dict[str, str]:
    out = dict(value)
    for k, v in out.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"bus headers must map str to str, got {k!r}: {v!r}")
    return out


def _new_id() -> str:
    return uuid.uuid4().hex


@attrs.frozen
class Message:
    """One published message. ``message_id`` is what consumers deduplicate on."""

    exchange: str
    routing_key: str
    headers: Mapping[str, str] = attrs.field(converter=_str_mapping)
    body: bytes = attrs.field(validator=attrs.validators.instance_of(bytes))
    message_id: str = attrs.field(factory=_new_id)
    persistent: bool = True  # survives a broker restart once confirmed (AMQP delivery mode 2)


@attrs.frozen
class Binding:
    """What a subscription receives.

    ``routing_key`` is a topic pattern: words separated by ``.``, ``*`` matches exactly one word
    and ``#`` zero or more.  ``queue=None`` gets an exclusive queue deleted with the subscription;
    a name gets a durable queue that keeps collecting messages between subscriptions (messages
    published before the queue was first bound are not delivered).  ``headers`` is an equality
    filter applied by the adapter: deliveries whose headers lack any of these pairs are acked and
    skipped, so two subscriptions sharing one named queue should use the same filter.
    """

    exchange: str
    routing_key: str
    queue: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_str_mapping)


class Delivery(abc.ABC):
    """A received message; settle it exactly once with :meth:`ack` or :meth:`nack`."""

    def __init__(self, message: Message, *, redelivered: bool) -> None:
        self.message = message
        self.redelivered = redelivered  # True when an earlier delivery of it was not acked
        self._settled = False

    def __repr__(self) -> str:
        m = self.message
        return f"<Delivery {m.exchange}/{m.routing_key} id={m.message_id} redelivered={self.redelivered}>"

    async def ack(self) -> None:
        """Done with it: the broker forgets the message."""
        self._begin_settle()
        await self._settle(ack=True, requeue=False)

    async def nack(self, requeue: bool = True) -> None:
        """Not processed: back to the queue (redelivered later) or, ``requeue=False``, dropped."""
        self._begin_settle()
        await self._settle(ack=False, requeue=requeue)

    def _begin_settle(self) -> None:
        if self._settled:
            # A programming error, as in aio-pika (MessageProcessError), not a broker condition.
            raise RuntimeError(f"bus: {self!r} was already settled")
        self._settled = True

    @abc.abstractmethod
    async def _settle(self, *, ack: bool, requeue: bool) -> None:
        """Tell the broker. Raise PortUnavailable when the subscription or connection that
        received the delivery is gone (the broker then redelivers it anyway)."""


class Subscription(abc.ABC):
    """An async iterator of :class:`Delivery`; it ends when closed (or its bus is closed)."""

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self

    @abc.abstractmethod
    async def __anext__(self) -> Delivery:
        """The next delivery, waiting for one. Cancelling the wait loses nothing."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving. Unsettled deliveries go back to the queue (if it outlives us)."""

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class Bus(ports.Port):
    """Publication to topic exchanges. Every method may raise :class:`bcs.errors.PortUnavailable`."""

    name: str = "bus"

    @abc.abstractmethod
    async def publish(self, message: Message) -> None:
        """Return once the broker has taken responsibility for ``message``; raise otherwise.

        A message no queue is bound for is accepted and dropped, as RabbitMQ does.
        """

    @abc.abstractmethod
    async def publish_many(self, messages: Iterable[Message]) -> None:
        """Publish all, in order, pipelined; return when every one is confirmed.

        On an exception some of them may have been published: retry the whole batch
        (consumers see duplicates, never gaps).
        """

    @abc.abstractmethod
    async def subscribe(self, binding: Binding, *, prefetch: int = DEFAULT_PREFETCH) -> Subscription:
        """Declare the exchange, queue and binding, and start receiving.

        At most ``prefetch`` deliveries are unsettled at a time (0 = no limit).
        """


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether a RabbitMQ topic binding key matches a routing key.

    Words are ``.``-separated and the empty key has no words; ``*`` is one word, ``#`` any number.
    """
    pwords = pattern.split(".") if pattern else []
    states = _skip_hashes(pwords, {0})
    for word in routing_key.split(".") if routing_key else []:
        step: set[int] = set()
        for i in states:
            if i == len(pwords):
                continue
            if pwords[i] == "#":
                step.add(i)
            elif pwords[i] in ("*", word):
                step.add(i + 1)
        if not step:
            return False
        states = _skip_hashes(pwords, step)
    return len(pwords) in states


def _skip_hashes(pwords: list[str], states: set[int]) -> set[int]:
    # '#' may match zero words, so a state before a '#' is also a state after it.
    out = set(states)
    for i in sorted(states):
        while i < len(pwords) and pwords[i] == "#":
            i += 1
            out.add(i)
    return out


def headers_match(wanted: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """The :attr:`Binding.headers` filter: every wanted pair is present with an equal value."""
    return all(headers.get(k) == v for k, v in wanted.items())


def open_bus(settings: BusSettings) -> Bus:
    """The adapter the settings name (not started)."""
    if settings.backend == "rabbitmq":
        from bcs.core.bus import rabbitmq

        return rabbitmq.RabbitBus(settings, timeout=settings.timeout)
    from bcs.core.bus import memory

    return memory.MemoryBus(settings)
