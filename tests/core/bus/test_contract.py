"""The Bus contract, run against the in-process adapter and a real RabbitMQ broker.

Absence ("this key is not delivered") is proven without sleeping: a queue delivers one publisher's
messages in order, so once a sentinel published *after* them has arrived, anything that was going to
arrive has arrived.
"""

from __future__ import annotations

import asyncio

import attrs
import pytest

from bcs import errors
from bcs.core import bus as bus_port

from .conftest import Names

WAIT = 10.0  # seconds a test waits for a delivery before failing


async def receive(sub: bus_port.Subscription) -> bus_port.Delivery:
    return await asyncio.wait_for(anext(sub), WAIT)


async def receive_until(sub: bus_port.Subscription, sentinel_id: str) -> list[bus_port.Delivery]:
    """Ack and collect every delivery up to (not including) the sentinel, which is acked too."""
    seen = []
    while True:
        d = await receive(sub)
        await d.ack()
        if d.message.message_id == sentinel_id:
            return seen
        seen.append(d)


def msg(exchange: str, key: str, body: bytes = b"{}", **headers: str) -> bus_port.Message:
    return bus_port.Message(exchange=exchange, routing_key=key, headers=headers, body=body)


async def test_publish_delivers_body_headers_key_and_id(bus: bus_port.Bus, names: Names) -> None:
    async with await bus.subscribe(bus_port.Binding(names.exchange, "Pod")) as sub:
        sent = bus_port.Message(
            exchange=names.exchange,
            routing_key="Pod",
            headers={"clusterId": "BCS-K8S-40001", "namespace": "default", "event": "update"},
            body=b'{"metadata":{"name":"web-0"}}',
            message_id="outbox-17",
        )
        await bus.publish(sent)
        got = await receive(sub)
        await got.ack()
    assert got.message == sent
    assert got.redelivered is False


async def test_persistent_flag_round_trips(bus: bus_port.Bus, names: Names) -> None:
    async with await bus.subscribe(bus_port.Binding(names.exchange, "#")) as sub:
        await bus.publish(msg(names.exchange, "a"))
        await bus.publish(attrs.evolve(msg(names.exchange, "b"), persistent=False))
        first, second = await receive(sub), await receive(sub)
    assert (first.message.persistent, second.message.persistent) == (True, False)


# (binding pattern, a key it surely matches (the sentinel), the test keys it matches); the sets are
# what RabbitMQ 3.10 routes, including its treatment of empty words ("a..b", ".x") and the empty key.
KEYS = [
    "Pod",
    "Event",
    "a",
    "x",
    "a.x",
    "b.x",
    "a.b.x",
    "a.x.y",
    "a.b",
    "a.c.d.b",
    "",
    "a..b",
    ".x",
    "x.",
    ".",
]
ROUTING = [
    ("Pod", "Pod", {"Pod"}),
    ("*.x", "s.x", {"a.x", "b.x", ".x"}),
    ("#", "s", set(KEYS)),
    ("*", "s", {"Pod", "Event", "a", "x"}),
    ("#.x", "s.x", {"x", "a.x", "b.x", "a.b.x", ".x"}),
    ("a.#", "a.s", {"a", "a.x", "a.b.x", "a.x.y", "a.b", "a.c.d.b", "a..b"}),
    ("a.#.b", "a.s.b", {"a.b", "a.c.d.b", "a..b"}),
    ("a.*.#", "a.s", {"a.x", "a.b.x", "a.x.y", "a.b", "a.c.d.b", "a..b"}),
    ("a.*.b", "a.s.b", {"a..b"}),
    ("*.*", "s.t", {"a.x", "b.x", "a.b", ".x", "x.", "."}),
    ("x.#", "x.s", {"x", "x."}),
    ("#.*", "s", set(KEYS) - {""}),
    ("", "", {""}),
]


@pytest.mark.parametrize(("pattern", "expected"), [(p, e) for p, _, e in ROUTING])
def test_topic_matches_follows_rabbitmq_rules(pattern: str, expected: set[str]) -> None:
    assert {k for k in KEYS if bus_port.topic_matches(pattern, k)} == expected


async def test_topic_wildcards_route_only_matching_keys(bus: bus_port.Bus, names: Names) -> None:
    subs = [await bus.subscribe(bus_port.Binding(names.exchange, p)) for p, _, _ in ROUTING]
    try:
        await bus.publish_many(msg(names.exchange, k, k.encode()) for k in KEYS)
        sentinels = [msg(names.exchange, s, sentinel="1") for _, s, _ in ROUTING]
        await bus.publish_many(sentinels)
        for sub, sentinel, (pattern, _, expected) in zip(subs, sentinels, ROUTING, strict=True):
            seen = await receive_until(sub, sentinel.message_id)
            got = [d.message.routing_key for d in seen if "sentinel" not in d.message.headers]
            assert sorted(got) == sorted(expected), pattern
    finally:
        for sub in subs:
            await sub.close()


async def test_each_subscription_gets_a_copy(bus: bus_port.Bus, names: Names) -> None:
    one = await bus.subscribe(bus_port.Binding(names.exchange, "Pod"))
    two = await bus.subscribe(bus_port.Binding(names.exchange, "*"))
    async with one, two:
        sent = msg(names.exchange, "Pod", b"x")
        await bus.publish(sent)
        got = [await receive(one), await receive(two)]
        for d in got:
            await d.ack()
    assert [d.message.message_id for d in got] == [sent.message_id] * 2


async def test_order_is_preserved_for_one_publisher(bus: bus_port.Bus, names: Names) -> None:
    async with await bus.subscribe(bus_port.Binding(names.exchange, "#"), prefetch=50) as sub:
        one_by_one = [msg(names.exchange, "Pod", str(i).encode()) for i in range(100)]
        for m in one_by_one:
            await bus.publish(m)
        batched = [msg(names.exchange, "Event", str(i).encode()) for i in range(600)]
        await bus.publish_many(batched)
        got = []
        for _ in range(len(one_by_one) + len(batched)):
            d = await receive(sub)
            await d.ack()
            got.append(d.message.message_id)
    assert got == [m.message_id for m in one_by_one + batched]


async def test_nack_with_requeue_redelivers(bus: bus_port.Bus, names: Names) -> None:
    async with await bus.subscribe(bus_port.Binding(names.exchange, "Pod")) as sub:
        sent = msg(names.exchange, "Pod")
        await bus.publish(sent)
        first = await receive(sub)
        assert first.redelivered is False
        await first.nack(requeue=True)
        again = await receive(sub)
        await again.ack()
    assert again.message == sent
    assert again.redelivered is True


async def test_nack_without_requeue_drops(bus: bus_port.Bus, names: Names) -> None:
    async with await bus.subscribe(bus_port.Binding(names.exchange, "Pod")) as sub:
        dropped, sentinel = msg(names.exchange, "Pod"), msg(names.exchange, "Pod")
        await bus.publish(dropped)
        await (await receive(sub)).nack(requeue=False)
        await bus.publish(sentinel)
        nxt = await receive(sub)
        await nxt.ack()
    assert nxt.message.message_id == sentinel.message_id


async def test_named_queue_redelivers_unacked_to_a_new_subscription(bus: bus_port.Bus, names: Names) -> None:
    binding = bus_port.Binding(names.exchange, "Pod", queue=names.queue("pods"))
    await bus.publish(msg(names.exchange, "Pod", b"before the queue existed"))
    m1, m2, m3, m4 = (msg(names.exchange, "Pod", str(i).encode()) for i in range(1, 5))
    async with await bus.subscribe(binding) as sub:
        await bus.publish_many([m1, m2, m3])
        got1 = await receive(sub)
        await got1.ack()
        got2 = await receive(sub)  # received, never settled
    await bus.publish(m4)  # no subscriber now: the durable queue keeps it
    async with await bus.subscribe(binding) as sub:
        later = [await receive(sub) for _ in range(3)]
        for d in later:
            await d.ack()
    assert got1.message == m1
    assert got2.message == m2
    assert [d.message.message_id for d in later] == [m2.message_id, m3.message_id, m4.message_id]
    assert later[0].redelivered is True
    assert later[2].redelivered is False


async def test_acks_out_of_order_never_settle_a_delivery_not_acked(bus: bus_port.Bus, names: Names) -> None:
    # The RabbitMQ adapter sends acks together (one multiple ack where it can): it must never
    # cover a delivery the consumer has not settled, and must send them all before closing.
    binding = bus_port.Binding(names.exchange, "Pod", queue=names.queue("pods"))
    sent = [msg(names.exchange, "Pod", str(i).encode()) for i in range(8)]
    async with await bus.subscribe(binding) as sub:
        await bus.publish_many(sent)
        got = [await receive(sub) for _ in sent]
        for i in (7, 2, 3, 5, 6, 4):  # 0 and 1 not acked
            await got[i].ack()
    sentinel = msg(names.exchange, "Pod", b"sentinel")
    await bus.publish(sentinel)
    async with await bus.subscribe(binding) as sub:
        again = await receive_until(sub, sentinel.message_id)
    assert [d.message.message_id for d in got] == [m.message_id for m in sent]
    assert [d.message.message_id for d in again] == [sent[0].message_id, sent[1].message_id]
    assert all(d.redelivered for d in again)


async def test_anonymous_queue_dies_with_its_subscription(bus: bus_port.Bus, names: Names) -> None:
    sub = await bus.subscribe(bus_port.Binding(names.exchange, "Pod"))
    await bus.publish(msg(names.exchange, "Pod"))
    await sub.close()
    with pytest.raises(StopAsyncIteration):
        await anext(sub)
    async with await bus.subscribe(bus_port.Binding(names.exchange, "Pod")) as fresh:
        sentinel = msg(names.exchange, "Pod")
        await bus.publish(sentinel)
        got = await receive(fresh)
        await got.ack()
    assert got.message.message_id == sentinel.message_id


async def test_consumers_of_one_named_queue_share_it_within_prefetch(bus: bus_port.Bus, names: Names) -> None:
    binding = bus_port.Binding(names.exchange, "Pod", queue=names.queue("shared"))
    m1, m2, m3 = (msg(names.exchange, "Pod", str(i).encode()) for i in range(3))
    async with await bus.subscribe(binding, prefetch=1) as first:
        await bus.publish_many([m1, m2, m3])
        held = await receive(first)  # unacked: with prefetch=1 nothing more goes to `first`
        async with await bus.subscribe(binding) as second:
            rest = [await receive(second), await receive(second)]
            for d in [held, *rest]:
                await d.ack()
    assert held.message == m1
    assert [d.message for d in rest] == [m2, m3]


async def test_headers_filter(bus: bus_port.Bus, names: Names) -> None:
    binding = bus_port.Binding(names.exchange, "#", headers={"event": "delete", "clusterId": "BCS-K8S-1"})
    async with await bus.subscribe(binding) as sub:
        batch = [
            msg(names.exchange, "Pod", b"1", event="update", clusterId="BCS-K8S-1"),
            msg(names.exchange, "Pod", b"2", event="delete", clusterId="BCS-K8S-1"),
            msg(names.exchange, "Pod", b"3", event="delete", clusterId="BCS-K8S-2"),
            msg(names.exchange, "Pod", b"4", event="delete"),
            msg(names.exchange, "Event", b"5", event="delete", clusterId="BCS-K8S-1", extra="x"),
        ]
        sentinel = msg(names.exchange, "Pod", b"s", event="delete", clusterId="BCS-K8S-1")
        await bus.publish_many([*batch, sentinel])
        seen = await receive_until(sub, sentinel.message_id)
    assert [d.message.body for d in seen] == [b"2", b"5"]


async def test_publish_many_delivers_every_message_exactly_once(bus: bus_port.Bus, names: Names) -> None:
    batch = [msg(names.exchange, f"Pod.{i % 7}", b"%d" % i, n=str(i)) for i in range(2000)]
    async with await bus.subscribe(bus_port.Binding(names.exchange, "Pod.*"), prefetch=200) as sub:
        await bus.publish_many(batch)
        counts: dict[str, int] = {}
        for _ in range(len(batch)):
            d = await receive(sub)
            counts[d.message.message_id] = counts.get(d.message.message_id, 0) + 1
            await d.ack()
        sentinel = msg(names.exchange, "Pod.end")
        await bus.publish(sentinel)
        extra = await receive_until(sub, sentinel.message_id)
    assert counts == {m.message_id: 1 for m in batch}
    assert extra == []


async def test_a_delivery_is_settled_once(bus: bus_port.Bus, names: Names) -> None:
    async with await bus.subscribe(bus_port.Binding(names.exchange, "Pod")) as sub:
        await bus.publish(msg(names.exchange, "Pod"))
        d = await receive(sub)
        await d.ack()
        with pytest.raises(RuntimeError):
            await d.ack()
        with pytest.raises(RuntimeError):
            await d.nack(requeue=True)


async def test_settling_after_close_fails_and_the_message_comes_back(bus: bus_port.Bus, names: Names) -> None:
    binding = bus_port.Binding(names.exchange, "Pod", queue=names.queue("late"))
    sub = await bus.subscribe(binding)
    sent = msg(names.exchange, "Pod")
    await bus.publish(sent)
    d = await receive(sub)
    await sub.close()
    with pytest.raises(errors.PortUnavailable):
        await d.ack()
    async with await bus.subscribe(binding) as again:
        back = await receive(again)
        await back.ack()
    assert back.message.message_id == sent.message_id
    assert back.redelivered is True


async def test_close_ends_a_waiting_iteration(bus: bus_port.Bus, names: Names) -> None:
    sub = await bus.subscribe(bus_port.Binding(names.exchange, "Pod"))
    collected: list[bus_port.Delivery] = []
    got_one = asyncio.Event()

    async def consume() -> None:
        async for d in sub:
            collected.append(d)
            await d.ack()
            got_one.set()

    consumer = asyncio.create_task(consume(), name="bus-test-consumer")
    first = msg(names.exchange, "Pod")
    await bus.publish(first)
    async with asyncio.timeout(WAIT):
        await got_one.wait()
        await sub.close()
        await consumer  # the loop ends by itself: close woke the waiting __anext__
    assert [d.message.message_id for d in collected] == [first.message_id]


async def test_ping_answers_until_closed(bus: bus_port.Bus) -> None:
    await bus.ping()
    await bus.close()
    with pytest.raises(errors.PortUnavailable):
        await bus.ping()
    with pytest.raises(errors.PortUnavailable):
        await bus.publish(msg("x", "Pod"))


def test_message_headers_must_be_strings() -> None:
    with pytest.raises(TypeError):
        bus_port.Message(exchange="x", routing_key="Pod", headers={"n": 1}, body=b"")  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        bus_port.Message(exchange="x", routing_key="Pod", headers={}, body="text")  # type: ignore[arg-type]
    assert bus_port.Message(exchange="x", routing_key="Pod", headers={}, body=b"").message_id
