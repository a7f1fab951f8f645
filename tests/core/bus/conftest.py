"""Fixtures for the Bus contract: one ``bus`` per adapter, and unique broker names cleaned up after.

The RabbitMQ broker is shared with other test runs and helpers: every exchange and queue a test
creates has a unique name from :class:`Names`, and only those are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from bcs import config
from bcs.core import bus as bus_port
from bcs.core.bus import memory, rabbitmq

__all__ = ["Names"]

BACKENDS = ["memory", "rabbitmq"]


class Names:
    """Unique exchange and queue names for one test, remembered for cleanup."""

    def __init__(self) -> None:
        self.prefix = f"bcs-test.{uuid.uuid4().hex[:12]}"
        self.exchanges: list[str] = []
        self.queues: list[str] = []
        self.exchange = self.new_exchange()

    def new_exchange(self) -> str:
        name = f"{self.prefix}.x{len(self.exchanges)}"
        self.exchanges.append(name)
        return name

    def queue(self, suffix: str) -> str:
        name = f"{self.prefix}.q.{suffix}"
        self.queues.append(name)
        return name


@pytest.fixture
def names() -> Names:
    return Names()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def bus(backend: str, request: pytest.FixtureRequest, names: Names) -> AsyncIterator[bus_port.Bus]:
    if backend == "memory":
        b: bus_port.Bus = bus_port.open_bus(config.BusSettings(backend="memory"))
        assert isinstance(b, memory.MemoryBus)
        await b.start()
        yield b
        await b.close()
        return
    url = request.getfixturevalue("amqp_url")
    b = bus_port.open_bus(config.BusSettings(backend="rabbitmq", url=url, exchange=names.exchange))
    assert isinstance(b, rabbitmq.RabbitBus)
    try:
        await b.start()
        yield b
    finally:
        await b.close()
        await delete_broker_names(url, names)


async def delete_broker_names(url: str, names: Names) -> None:
    """Delete this test's queues and exchanges (only those) with an independent client."""
    conn = await aio_pika.connect(url, timeout=10)
    try:
        for queue in names.queues:
            channel = await conn.channel()
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.queue_delete(queue, if_unused=False, if_empty=False)
            await _close(channel)
        for exchange in names.exchanges:
            channel = await conn.channel()
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.exchange_delete(exchange, if_unused=False)
            await _close(channel)
    finally:
        await conn.close()


async def _close(channel: aio_pika.abc.AbstractChannel) -> None:
    # A failed delete closes the channel on the broker side; closing it again is harmless.
    with contextlib.suppress(aio_pika.exceptions.AMQPError):
        await channel.close()
