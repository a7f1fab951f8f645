"""Fixtures of the data watch tests: the shared RabbitMQ broker under an exchange of the test's own,
with a consumer of its Pod messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bcs import config
from bcs.core import bus as bus_port
from bcs.storage.service import messages
from tests.core.bus.conftest import Names, delete_broker_names


class Consumer:
    """Every message a binding of the storage exchange receives."""

    def __init__(self, subscription: bus_port.Subscription) -> None:
        self.subscription = subscription
        self.received: list[bus_port.Message] = []
        self._task = asyncio.create_task(self._run(), name="test.consumer")

    async def _run(self) -> None:
        async for delivery in self.subscription:
            self.received.append(delivery.message)
            await delivery.ack()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.subscription.close()


@pytest.fixture
async def rabbit(amqp_url: str) -> AsyncIterator[tuple[dict[str, Any], Consumer]]:
    """A ``[bus]`` section on the shared broker with this test's own exchange, and a Pod consumer."""
    names = Names()
    names.exchanges.append(messages.watch_exchange(names.exchange))
    listener = bus_port.open_bus(
        config.BusSettings(backend="rabbitmq", url=amqp_url, exchange=names.exchange)
    )
    await listener.start()
    consumer = Consumer(
        await listener.subscribe(bus_port.Binding(exchange=names.exchange, routing_key="Pod"))
    )
    try:
        yield {"backend": "rabbitmq", "url": amqp_url, "exchange": names.exchange}, consumer
    finally:
        await consumer.close()
        await listener.close()
        await delete_broker_names(amqp_url, names)
