"""In-process adapter only: its memory bound (refuse, never drop) and its use as the default."""

from __future__ import annotations

import asyncio

import pytest

from bcs import config, errors
from bcs.core import bus as bus_port
from bcs.core.bus import memory


def _msg(key: str, body: bytes = b"") -> bus_port.Message:
    return bus_port.Message(exchange="changes", routing_key=key, headers={}, body=body)


def test_default_settings_open_the_memory_adapter() -> None:
    assert isinstance(bus_port.open_bus(config.BusSettings()), memory.MemoryBus)


async def test_a_full_queue_refuses_publication_instead_of_dropping() -> None:
    bus = memory.MemoryBus(max_backlog=3)
    await bus.start()
    try:
        slow = await bus.subscribe(bus_port.Binding("changes", "Pod", queue="slow"))
        fast = await bus.subscribe(bus_port.Binding("changes", "#"))
        accepted = [_msg("Pod", b"%d" % i) for i in range(3)]
        await bus.publish_many(accepted)
        for _ in accepted:
            await (await anext(fast)).ack()
        refused = _msg("Pod", b"refused")
        with pytest.raises(errors.PortUnavailable, match="slow"):
            await bus.publish(refused)
        # All or nothing: the queue with room did not get the refused message either.
        marker = _msg("Event")
        await bus.publish(marker)
        assert (await anext(fast)).message == marker
        got = []
        for _ in accepted:
            d = await anext(slow)
            await d.ack()
            got.append(d.message)
        assert got == accepted
        await bus.publish(refused)  # room again: the retry succeeds
        assert (await asyncio.wait_for(anext(slow), 5)).message == refused
    finally:
        await bus.close()


async def test_close_ends_every_subscription() -> None:
    bus = memory.MemoryBus()
    await bus.start()
    sub = await bus.subscribe(bus_port.Binding("changes", "#", queue="kept"))
    await bus.close()
    with pytest.raises(StopAsyncIteration):
        await anext(sub)
    with pytest.raises(errors.PortUnavailable):
        await bus.subscribe(bus_port.Binding("changes", "#"))
