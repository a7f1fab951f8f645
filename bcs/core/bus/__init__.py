"""The Bus port: publish messages with headers to a topic exchange, delivered at least once.

Adapters: :mod:`bcs.core.bus.rabbitmq` (aio-pika, production) and :mod:`bcs.core.bus.memory`
(in-process, the embedded default).  Both follow RabbitMQ's topic-exchange rules and pass one
contract suite.  No HTTP, no storage and no backend knowledge here: the storage outbox decides what
to publish.
"""

from __future__ import annotations

from bcs.core.bus.port import (
    Binding,
    Bus,
    Delivery,
    Message,
    Subscription,
    headers_match,
    open_bus,
    topic_matches,
)

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
