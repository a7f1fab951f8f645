"""A real broker outage: an isolated RabbitMQ (never the shared one) is stopped while changes keep
being written; once it is back, every change is delivered, in order per object."""

from __future__ import annotations

import pathlib

from bcs import config
from bcs.core import bus as bus_port
from bcs.storage.store import port
from tests.core.bus.broker import IsolatedBroker
from tests.storage.test_outbox import Consumer, _drained, pod, pods, running


async def test_changes_written_while_rabbitmq_is_down_are_delivered_after_it_returns(
    tmp_path: pathlib.Path,
) -> None:
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    await store.start()
    async with IsolatedBroker() as broker:
        settings = config.BusSettings(backend="rabbitmq", url=broker.url, exchange="bcs-storage", timeout=3.0)
        bus = bus_port.open_bus(settings)
        listener = bus_port.open_bus(settings)
        await bus.start()
        await listener.start()
        # A durable queue, as real consumers use: it keeps what arrives while the consumer reconnects.
        binding = bus_port.Binding(exchange="bcs-storage", routing_key="Pod", queue="consumer")
        consumer = Consumer(await listener.subscribe(binding))
        try:
            async with running(store, bus) as service:
                await service.put_resources([pod(f"p{i}", 1) for i in range(3)])
                await consumer.wait_for(3)

                await broker.stop()
                for version in (2, 3):
                    await service.put_resources([pod(f"p{i}", version) for i in range(3)])
                await service.put_resource(pod("late", 1))

                await broker.start()
                received = await consumer.wait_for(10)
                await _drained(service)
        finally:
            await consumer.close()
            await listener.close()
            await bus.close()
            await store.close()
    assert len(consumer.unique()) == 10
    for i in range(3):
        assert pods(received, f"p{i}") == [("update", 1), ("update", 2), ("update", 3)]
    assert pods(received, "late") == [("update", 1)]
