"""RabbitMQ-only behaviour: what other AMQP clients see on the wire, declarations, outages.

The wire checks use a plain aio-pika connection as an independent consumer; the restart test runs an
isolated broker (see ``broker.py``) because the shared one must never be stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import aio_pika
import pytest

from bcs import config, errors
from bcs.core import bus as bus_port
from bcs.core.bus import rabbitmq

from .broker import IsolatedBroker
from .conftest import Names, delete_broker_names

WAIT = 10.0


@pytest.fixture
async def rabbit(amqp_url: str, names: Names) -> AsyncIterator[rabbitmq.RabbitBus]:
    bus = rabbitmq.RabbitBus(config.BusSettings(backend="rabbitmq", url=amqp_url, exchange=names.exchange))
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()
        await delete_broker_names(amqp_url, names)


@pytest.fixture
async def raw(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    """An independent AMQP client connection."""
    conn = await aio_pika.connect(amqp_url, timeout=10)
    try:
        yield conn
    finally:
        await conn.close()


def _msg(exchange: str, key: str, **headers: str) -> bus_port.Message:
    return bus_port.Message(exchange=exchange, routing_key=key, headers=headers, body=b'{"a":1}')


async def test_other_clients_see_persistent_messages_with_headers_and_id(
    rabbit: rabbitmq.RabbitBus, raw: aio_pika.abc.AbstractConnection, names: Names
) -> None:
    await rabbit.publish(_msg(names.exchange, "warm-up"))  # declares the exchange
    channel = await raw.channel()
    exchange = await channel.declare_exchange(names.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, "Pod")
    persistent = _msg(names.exchange, "Pod", clusterId="BCS-K8S-40001", event="delete")
    transient = bus_port.Message(
        exchange=names.exchange, routing_key="Pod", headers={}, body=b"", persistent=False
    )
    await rabbit.publish_many([persistent, transient])
    got = []
    async with queue.iterator() as it:
        async for incoming in it:
            await incoming.ack()
            got.append(incoming)
            if len(got) == 2:
                break
    await channel.close()
    assert got[0].delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert got[0].message_id == persistent.message_id
    assert got[0].headers == {"clusterId": "BCS-K8S-40001", "event": "delete"}
    assert got[0].body == b'{"a":1}'
    assert got[1].delivery_mode == aio_pika.DeliveryMode.NOT_PERSISTENT


async def test_exchange_and_named_queue_are_durable(
    rabbit: rabbitmq.RabbitBus, raw: aio_pika.abc.AbstractConnection, names: Names
) -> None:
    queue = names.queue("durable")
    sub = await rabbit.subscribe(bus_port.Binding(names.exchange, "#", queue=queue))
    await sub.close()
    channel = await raw.channel()
    # Re-declaring with the same properties succeeds; with different ones the broker refuses.
    await channel.declare_exchange(names.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.declare_queue(queue, durable=True)
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await channel.declare_exchange(names.exchange, aio_pika.ExchangeType.TOPIC, durable=False)
    with contextlib.suppress(aio_pika.exceptions.AMQPError):
        await channel.close()


async def test_unreachable_broker_is_port_unavailable_without_the_password() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    url = f"amqp://guest:s3cret-pw@127.0.0.1:{port}/"
    bus = rabbitmq.RabbitBus(config.BusSettings(backend="rabbitmq", url=url), timeout=5)
    with pytest.raises(errors.PortUnavailable) as caught:
        await bus.start()
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)
    with pytest.raises(errors.PortUnavailable):
        await bus.publish(_msg("x", "Pod"))
    await bus.close()


async def _publish_until_accepted(bus: bus_port.Bus, message: bus_port.Message) -> int:
    """Retry like the storage outbox does; return how many attempts were refused."""
    refused = 0
    deadline = time.monotonic() + 60
    while True:
        try:
            await bus.publish(message)
            return refused
        except errors.PortUnavailable:
            refused += 1
            assert time.monotonic() < deadline, "the bus did not recover after the broker restart"
            await asyncio.sleep(0.2)  # retry back-off, bounded by the deadline


async def test_survives_a_broker_restart() -> None:
    async with IsolatedBroker() as broker:
        settings = config.BusSettings(backend="rabbitmq", url=broker.url)
        bus = rabbitmq.RabbitBus(settings, timeout=3, reconnect_interval=0.5)
        await bus.start()
        try:
            sub = await bus.subscribe(bus_port.Binding("changes", "Pod", queue="pods"))
            before, in_flight, after = (_msg("changes", "Pod", n=str(i)) for i in range(3))
            await bus.publish(before)
            first = await asyncio.wait_for(anext(sub), WAIT)
            await first.ack()
            await bus.publish(in_flight)
            held = await asyncio.wait_for(anext(sub), WAIT)  # received, not yet acked

            await broker.stop()
            with pytest.raises(errors.PortUnavailable):
                await bus.publish(_msg("changes", "Pod"))  # refused, never silently dropped
            with pytest.raises(errors.PortUnavailable):
                await bus.ping()
            with pytest.raises(errors.PortUnavailable):
                await held.ack()  # its channel died with the broker

            await broker.start()
            await _publish_until_accepted(bus, after)
            await bus.ping()
            redelivered = await asyncio.wait_for(anext(sub), WAIT)
            await redelivered.ack()
            last = await asyncio.wait_for(anext(sub), WAIT)
            await last.ack()
            await sub.close()
        finally:
            await bus.close()
    assert first.message == before
    assert held.message == in_flight
    # The persistent message that was unacked when the broker stopped survives the restart.
    assert redelivered.message == in_flight
    assert redelivered.redelivered is True
    assert last.message == after


async def test_an_exchange_declared_differently_is_a_conflict_and_the_bus_recovers(
    rabbit: rabbitmq.RabbitBus, raw: aio_pika.abc.AbstractConnection, names: Names
) -> None:
    channel = await raw.channel()
    await channel.declare_exchange(names.exchange, aio_pika.ExchangeType.FANOUT, auto_delete=False)
    await channel.close()
    with pytest.raises(errors.Conflict):
        await rabbit.publish(_msg(names.exchange, "Pod"))
    with pytest.raises(errors.Conflict):
        await rabbit.subscribe(bus_port.Binding(names.exchange, "Pod"))
    other = names.new_exchange()
    async with await rabbit.subscribe(bus_port.Binding(other, "Pod")) as sub:
        sent = _msg(other, "Pod")
        await _publish_until_accepted(rabbit, sent)
        got = await asyncio.wait_for(anext(sub), WAIT)
        await got.ack()
    assert got.message == sent
