"""The outbox: exactly the published set, in order per object, through bus outages, restarts and
dead owners. Each test runs on SQLite and on MongoDB (the ``store`` fixture)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from bcs import config, errors
from bcs.core import bus as bus_port
from bcs.core import tasks
from bcs.core.bus import memory
from bcs.storage import outbox
from bcs.storage.service import core, documents, messages
from bcs.storage.service import watch as watch_mod
from bcs.storage.store import conditions as c
from bcs.storage.store import port
from tests.core.bus.conftest import Names, delete_broker_names

EXCHANGE = "bcs-storage"
DEADLINE = 15.0


class FlakyBus(memory.MemoryBus):
    """The in-process bus with a switch: while ``down``, publishing fails as a dead broker does."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.failed = 0

    async def publish_many(self, messages: Iterable[bus_port.Message]) -> None:
        if self.down:
            self.failed += 1
            raise errors.PortUnavailable("bus: down (test)")
        await super().publish_many(messages)


class Consumer:
    """Collects every message a binding receives (acking it)."""

    def __init__(self, subscription: bus_port.Subscription) -> None:
        self.subscription = subscription
        self.received: list[bus_port.Message] = []
        self._task = asyncio.create_task(self._run(), name="test.consumer")

    @classmethod
    async def bind(cls, bus: bus_port.Bus, exchange: str, routing_key: str = "#") -> Consumer:
        return cls(await bus.subscribe(bus_port.Binding(exchange=exchange, routing_key=routing_key)))

    async def _run(self) -> None:
        async for delivery in self.subscription:
            self.received.append(delivery.message)
            await delivery.ack()

    def unique(self) -> list[bus_port.Message]:
        seen: dict[str, bus_port.Message] = {}
        for m in self.received:
            seen.setdefault(m.message_id, m)
        return list(seen.values())

    async def wait_for(self, count: int) -> list[bus_port.Message]:
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while len(self.unique()) < count:
            assert asyncio.get_running_loop().time() < deadline, f"got {len(self.unique())} of {count}"
            await asyncio.sleep(0.02)
        return self.unique()

    async def close(self) -> None:
        await self.subscription.close()
        await self._task


@contextlib.asynccontextmanager
async def running(
    store: port.Store, bus: bus_port.Bus, *, exchange: str = EXCHANGE, lease: float = 15.0, drain: bool = True
) -> AsyncIterator[core.StorageService]:
    """A storage service with its drainer running (unless ``drain`` is False: a process that dies)."""
    service = core.StorageService(
        store, bus, settings=config.StorageSettings(), exchange=exchange, lease=lease
    )
    task = tasks.create_guarded_task(name="test.outbox", coro=service.outbox.run()) if drain else None
    try:
        yield service
    finally:
        await service.close()
        if task is not None:
            await tasks.stop_tasks([task])
            await service.outbox.close()


def pod(name: str, version: int, namespace: str = "default") -> documents.Resource:
    data = {"metadata": {"name": name}, "v": version}
    return documents.Resource("BCS-K8S-1", "Pod", name, data, namespace=namespace)


def pods(messages: Iterable[bus_port.Message], name: str) -> list[tuple[str, int]]:
    """The (event, version) sequence the messages say about pod ``name``."""
    return [
        (m.headers["event"], json.loads(m.body)["v"])
        for m in messages
        if m.headers["resourceType"] == "Pod" and m.headers["resourceName"] == name
    ]


async def _churn(service: core.StorageService) -> int:
    """A fixed set of changes; returns how many public messages they make."""
    await service.put_resources([pod(f"p{i}", 1) for i in range(5)])  # 5
    await service.put_resource(pod("p1", 2))  # 6
    await service.put_resource(pod("p1", 3))  # 7
    await service.delete_resources("Pod", c.key_match(pod("p2", 0).key()))  # 8
    await service.put_resource(documents.Resource("BCS-K8S-1", "ConfigMap", "cm", {"a": 1}, namespace="x"))
    await service.put_resource(
        documents.Resource("BCS-K8S-1", "Deployment", "d", {"v": 1}, namespace="x")
    )  # 9
    return 9


@pytest.fixture
async def rabbit(amqp_url: str) -> AsyncIterator[tuple[bus_port.Bus, str]]:
    names = Names()
    names.exchanges.append(messages.watch_exchange(names.exchange))
    bus = bus_port.open_bus(config.BusSettings(backend="rabbitmq", url=amqp_url, exchange=names.exchange))
    await bus.start()
    try:
        yield bus, names.exchange
    finally:
        await bus.close()
        await delete_broker_names(amqp_url, names)


async def test_rabbitmq_consumer_gets_exactly_the_published_set_in_order(
    store: port.Store, rabbit: tuple[bus_port.Bus, str]
) -> None:
    bus, exchange = rabbit
    consumer = await Consumer.bind(bus, exchange)
    try:
        async with running(store, bus, exchange=exchange) as service:
            expected = await _churn(service)
            messages = await consumer.wait_for(expected)
            # Everything the drainer published is in; nothing more arrives on the public exchange.
            await _drained(service)
        assert len(consumer.unique()) == expected
    finally:
        await consumer.close()

    assert pods(messages, "p1") == [("update", 1), ("update", 2), ("update", 3)]
    assert pods(messages, "p2") == [("update", 1), ("delete", 1)]
    assert {m.routing_key for m in messages} == {"Pod", "Deployment"}  # ConfigMap is not published
    p0 = next(m for m in messages if m.headers.get("resourceName") == "p0")
    assert dict(p0.headers) == {
        "clusterId": "BCS-K8S-1",
        "namespace": "default",
        "resourceType": "Pod",
        "resourceName": "p0",
        "event": "update",
    }
    assert json.loads(p0.body) == {"metadata": {"name": "p0"}, "v": 1}
    assert p0.persistent
    assert p0.exchange == exchange


async def _drained(service: core.StorageService) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while await service.store.count(outbox.OUTBOX, None, include_deleted=True):
        assert asyncio.get_running_loop().time() < deadline, "the outbox never emptied"
        await asyncio.sleep(0.02)


async def test_writes_succeed_while_the_bus_is_down_and_are_published_after(store: port.Store) -> None:
    bus = FlakyBus()
    await bus.start()
    consumer = await Consumer.bind(bus, EXCHANGE)
    try:
        async with running(store, bus) as service:
            bus.down = True
            expected = await _churn(service)
            # The drainer failed and parked the changes in the store, ready for anyone.
            deadline = asyncio.get_running_loop().time() + DEADLINE
            while await outbox.count_entries(store, c.Eq("state", "ready")) < 8:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.02)
            assert bus.failed > 0
            assert consumer.received == []
            bus.down = False
            messages = await consumer.wait_for(expected)
            await _drained(service)
        assert len(consumer.unique()) == expected
        assert pods(messages, "p1") == [("update", 1), ("update", 2), ("update", 3)]
        assert pods(messages, "p2") == [("update", 1), ("delete", 1)]
    finally:
        await consumer.close()
        await bus.close()


async def test_a_restart_publishes_what_was_left(store: port.Store) -> None:
    dead = FlakyBus()
    dead.down = True
    async with running(store, dead) as first:
        expected = await _churn(first)
    # + the ConfigMap's (watch only); one group document per write
    assert await outbox.count_entries(store) == expected + 1
    assert await store.count(outbox.OUTBOX, None) == 6

    bus = FlakyBus()
    await bus.start()
    consumer = await Consumer.bind(bus, EXCHANGE)
    try:
        async with running(store, bus) as second:
            messages = await consumer.wait_for(expected)
            await _drained(second)
        assert len(consumer.unique()) == expected
        assert pods(messages, "p1") == [("update", 1), ("update", 2), ("update", 3)]
    finally:
        await consumer.close()
        await bus.close()


async def test_a_dead_owners_entries_are_adopted_once_and_checked(store: port.Store) -> None:
    bus = FlakyBus()
    await bus.start()
    consumer = await Consumer.bind(bus, EXCHANGE)
    try:
        # A process that records and writes changes, then dies before publishing them; one change
        # was recorded but never written (it died in between): that one must not be announced.
        # Unconfirmed entries of a crashed owner collapse to what the store holds now (a's first
        # version is gone from the store, so it is not announced after the fact).
        async with running(store, bus, lease=0.3, drain=False) as dead:
            await dead.put_resources([pod("a", 1), pod("b", 1)])
            await dead.put_resource(pod("a", 2))
            never = dead._entry("update", pod("c", 1).key(), {"v": 1})
            await dead.outbox.prepare([never])
        # Two survivors race for the orphans: exactly one adopts them.
        async with running(store, bus, lease=0.3) as one, running(store, bus, lease=0.3) as two:
            messages = await consumer.wait_for(2)
            await _drained(one)
            assert two.outbox.owner != one.outbox.owner
        assert len(consumer.received) == 2  # no duplicates either
        assert pods(messages, "a") == [("update", 2)]
        assert pods(messages, "b") == [("update", 1)]
        assert await store.count(outbox.OWNERS, None, include_deleted=True) == 0  # leases cleaned up
    finally:
        await consumer.close()
        await bus.close()


@pytest.fixture
async def listened() -> AsyncIterator[tuple[FlakyBus, Consumer]]:
    """An in-process bus and a consumer of the public exchange."""
    bus = FlakyBus()
    await bus.start()
    consumer = await Consumer.bind(bus, EXCHANGE)
    try:
        yield bus, consumer
    finally:
        await consumer.close()
        await bus.close()


async def test_published_groups_are_deleted_together_and_by_close(
    store: port.Store, listened: tuple[FlakyBus, Consumer]
) -> None:
    bus, consumer = listened
    async with running(store, bus, drain=False) as service:
        for i in range(3):
            await service.put_resource(pod(f"p{i}", 1))
        assert await service.outbox.drain_once()
        await consumer.wait_for(3)
        # Published, and deleted later in one go (a moment later, or with more groups).
        assert await store.count(outbox.OUTBOX, None) == 3
        await service.outbox.close()
        assert await store.count(outbox.OUTBOX, None, include_deleted=True) == 0
    assert len(consumer.received) == 3


async def test_enough_published_groups_are_deleted_at_once(
    store: port.Store, listened: tuple[FlakyBus, Consumer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "PURGE_GROUPS", 2)
    monkeypatch.setattr(outbox, "PURGE_DELAY", 3600.0)
    async with running(store, listened[0], drain=False) as service:
        await service.put_resource(pod("a", 1))
        assert await service.outbox.drain_once()
        assert await store.count(outbox.OUTBOX, None) == 1  # one is not enough, nor old enough
        await service.put_resource(pod("b", 1))
        await service.put_resource(pod("c", 1))
        assert await service.outbox.drain_once()
        assert await store.count(outbox.OUTBOX, None) == 0


async def test_groups_published_but_not_yet_deleted_are_republished_with_their_ids(
    store: port.Store, listened: tuple[FlakyBus, Consumer]
) -> None:
    bus, consumer = listened
    # A process publishes, then dies before deleting what it published.
    async with running(store, bus, lease=0.3, drain=False) as dead:
        await dead.put_resources([pod("a", 1), pod("b", 1)])
        assert await dead.outbox.drain_once()
        first = await consumer.wait_for(2)
    async with running(store, bus, lease=0.3) as heir:
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while len(consumer.received) < 4:
            assert asyncio.get_running_loop().time() < deadline, "never republished"
            await asyncio.sleep(0.02)
        await _drained(heir)
    # Duplicates, each with the message id it had: consumers drop them.
    assert len(consumer.received) == 4
    assert consumer.unique() == first


async def test_puts_and_deletes_written_together_are_one_record_published_in_order(
    store: port.Store, listened: tuple[FlakyBus, Consumer]
) -> None:
    bus, consumer = listened
    async with running(store, bus, drain=False) as service:
        await service.put_resources([pod("a", 1), pod("b", 1)])
        await service.outbox.close()  # published and deleted
        gone = ("Pod", c.key_match(pod("b", 0).key()))
        nothing = ("Pod", c.key_match(pod("never", 0).key()))
        assert await service.write_resources([pod("a", 2), pod("c", 1)], [gone, nothing]) == (2, 1)
        assert await store.count(outbox.OUTBOX, None) == 1
        assert await outbox.count_entries(store) == 3
        assert await service.outbox.drain_once()
        messages = await consumer.wait_for(5)
    assert [(m.headers["resourceName"], m.headers["event"]) for m in messages[2:]] == [
        ("a", "update"),
        ("c", "update"),
        ("b", "delete"),
    ]
    assert json.loads(messages[-1].body) == {"metadata": {"name": "b"}, "v": 1}  # its last data
    live = await service.find_resources("Pod", c.Query(fields=["resourceName"]))
    assert sorted(d["resourceName"] for d in live) == ["a", "c"]


async def test_deletes_by_key_announce_only_live_objects(
    store: port.Store, listened: tuple[FlakyBus, Consumer]
) -> None:
    bus, consumer = listened
    async with running(store, bus) as service:
        await service.put_resources([pod("a", 1), pod("b", 1), pod("c", 1, namespace="other")])
        assert await service.delete_resources("Pod", c.key_match(pod("a", 0).key())) == 1
        keys = [pod(n, 0).key() for n in ("a", "b", "never")] + [pod("c", 0, namespace="other").key()]
        assert await service.write_resources(gone=keys) == (0, 2)
        await consumer.wait_for(6)
        await _drained(service)
    messages = consumer.unique()
    assert len(messages) == 6
    deletes = [
        (m.headers["namespace"], m.headers["resourceName"])
        for m in messages
        if m.headers["event"] == "delete"
    ]
    assert deletes == [("default", "a"), ("default", "b"), ("other", "c")]  # "a" once, "never" not at all
    assert await store.count("Pod", None) == 0


class FailingStore:
    """Wraps a store; the next write of a resource fails, before or after reaching the store."""

    def __init__(self, inner: port.Store) -> None:
        self.inner = inner
        self.fail: str | None = None  # "before" | "after"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _write(self, collection: str, write: Any) -> Any:
        when = None
        if not collection.startswith("_bcs"):  # resources only, not the outbox or its leases
            when, self.fail = self.fail, None
        if when == "before":
            raise errors.PortUnavailable("store: down (test)")
        result = await write()
        if when == "after":
            raise errors.PortUnavailable("store: the answer was lost (test)")
        return result

    async def upsert_many(self, collection: str, items: Any) -> Any:
        return await self._write(collection, lambda: self.inner.upsert_many(collection, items))

    async def upsert(self, collection: str, key: Any, data: Any, *, extra: Any = None) -> Any:
        return await self._write(collection, lambda: self.inner.upsert(collection, key, data, extra=extra))


async def test_a_failed_write_is_announced_only_if_it_landed(store: port.Store) -> None:
    bus = FlakyBus()
    await bus.start()
    flaky = FailingStore(store)
    consumer = await Consumer.bind(bus, EXCHANGE)
    try:
        async with running(flaky, bus) as service:  # type: ignore[arg-type]
            flaky.fail = "before"
            with pytest.raises(errors.PortUnavailable):
                await service.put_resource(pod("lost", 1))
            flaky.fail = "after"
            with pytest.raises(errors.PortUnavailable):
                await service.put_resource(pod("landed", 1))
            await service.put_resources([pod("fine", 1), pod("fine2", 1)])  # the bulk path
            flaky.fail = "after"
            with pytest.raises(errors.PortUnavailable):
                await service.put_resources([pod("landed2", 1), pod("landed3", 1)])
            await _drained(service)
        assert sorted(m.headers["resourceName"] for m in consumer.unique()) == [
            "fine",
            "fine2",
            "landed",
            "landed2",
            "landed3",
        ]
    finally:
        await consumer.close()
        await bus.close()


async def test_watch_messages_carry_every_type_on_the_internal_exchange(store: port.Store) -> None:
    bus = FlakyBus()
    await bus.start()
    watch = await Consumer.bind(bus, messages.watch_exchange(EXCHANGE))
    try:
        async with running(store, bus) as service:
            await service.put_resource(
                documents.Resource("BCS-K8S-1", "ConfigMap", "cm", {"a": 1}, namespace="x")
            )
            await service.put_resource(
                documents.Resource("BCS-K8S-1", "ConfigMap", "cm", {"a": 2}, namespace="x")
            )
            await service.delete_resources("ConfigMap", c.Eq("clusterId", "BCS-K8S-1"))

            def changes() -> list[dict[str, Any]]:  # a message lists the changes of one batch
                return [item for m in watch.unique() for item in json.loads(m.body)]

            deadline = asyncio.get_running_loop().time() + DEADLINE
            while len(changes()) < 3:
                assert asyncio.get_running_loop().time() < deadline, f"got {changes()}"
                await asyncio.sleep(0.02)
        received = watch.unique()
        assert {m.routing_key for m in received} == {"d.BCS-K8S-1.ConfigMap"}
        assert sum(int(m.headers["events"]) for m in received) == 3
        assert [item["type"] for item in changes()] == [1, 3, 2]
        assert len({item["id"] for item in changes()}) == 3
        values = [item["value"] for item in changes()]
        assert [v["data"] for v in values] == [{"a": 1}, {"a": 2}, {"a": 2}]
        assert [v["_isBcsObjectDeleted"] for v in values] == [False, False, True]
        assert values[0]["createTime"].endswith("Z")
        assert values[0]["resourceName"] == "cm"
    finally:
        await watch.close()
        await bus.close()


async def test_watch_streams_see_each_change_once_however_batches_are_grouped() -> None:
    bus = memory.MemoryBus()
    await bus.start()
    hub = watch_mod.WatchHub(bus, exchange=EXCHANGE)
    stream = await hub.open(messages.RESOURCE, "BCS-K8S-1", "Pod")
    try:

        def batch(*ids: str, bad: bool = False) -> bus_port.Message:
            items: Any = [{"id": i, "type": 3, "value": {"resourceName": i}} for i in ids]
            return bus_port.Message(
                exchange=messages.watch_exchange(EXCHANGE),
                routing_key=messages.watch_routing_key(messages.RESOURCE, "BCS-K8S-1", "Pod"),
                headers={
                    "clusterId": "BCS-K8S-1",
                    "resourceType": "Pod",
                    "kind": "d",
                    "events": str(len(ids)),
                },
                body=b"not json" if bad else json.dumps(items).encode(),
                message_id=f"{ids[0]}+{len(ids)}",
            )

        # A batch published, then retried grouped otherwise (with a newer change): each change once.
        await bus.publish_many([batch("a", "b"), batch("x", bad=True), batch("b", "c"), batch("a", "b")])
        seen = []
        while len(seen) < 3:
            event = await stream.next(timeout=DEADLINE)
            assert event is not None, f"only {seen}"
            seen.append(event.value["resourceName"])
        assert seen == ["a", "b", "c"]
        assert await stream.next(timeout=0.2) is None  # nothing more
    finally:
        await hub.release(stream)
        await hub.close()
        await bus.close()


async def test_a_large_write_is_recorded_in_groups_and_published_in_order(store: port.Store) -> None:
    n = 2 * outbox.GROUP_ENTRIES + 50
    bus = FlakyBus()
    await bus.start()
    consumer = await Consumer.bind(bus, EXCHANGE, routing_key="Pod")
    try:
        async with running(store, bus, lease=0.3, drain=False) as dead:
            await dead.put_resources([pod(f"p{i}", 1) for i in range(n)])
            # Recorded as three documents, before anything is published.
            assert await store.count(outbox.OUTBOX, None) == 3
            assert await outbox.count_entries(store) == n
        # Its process died: another adopts the groups, checks them against the store, publishes.
        async with running(store, bus, lease=0.3) as service:
            messages = await consumer.wait_for(n)
            await _drained(service)
        assert [m.headers["resourceName"] for m in messages] == [f"p{i}" for i in range(n)]
        assert len(consumer.received) == n
    finally:
        await consumer.close()
        await bus.close()


async def test_entries_stored_one_per_document_by_an_older_version_are_published(
    store: port.Store,
) -> None:
    # What an earlier version left in the outbox: one document per entry, owned by a process that
    # is gone, and the index it made.
    old = "old-host-1-abcdef12"
    await store.ensure_index(outbox.OUTBOX, outbox.OLD_INDEX, [("owner", 1), ("seq", 1)])
    await store.upsert(outbox.OWNERS, {"owner": old}, None, extra={"leaseUntil": port.EPOCH})
    await store.upsert(
        outbox.OUTBOX,
        {"id": f"{old}:1"},
        {"metadata": {"name": "legacy"}, "v": 1},
        extra={
            "seq": 1,
            "owner": old,
            "state": "ready",
            "kind": messages.RESOURCE,
            "collection": "Pod",
            "objectKey": pod("legacy", 1).key(),
            "event": "update",
            "public": True,
            "headers": {
                "clusterId": "BCS-K8S-1",
                "namespace": "default",
                "resourceType": "Pod",
                "resourceName": "legacy",
                "event": "update",
            },
        },
    )
    await store.upsert("Pod", pod("legacy", 1).key(), {"metadata": {"name": "legacy"}, "v": 1})
    bus = FlakyBus()
    await bus.start()
    consumer = await Consumer.bind(bus, EXCHANGE)
    try:
        async with running(store, bus) as service:
            (message,) = await consumer.wait_for(1)
            await _drained(service)
        assert message.message_id == f"{old}:1"
        assert pods([message], "legacy") == [("update", 1)]
        indexes = {i.name for i in await store.list_indexes(outbox.OUTBOX)}
        assert outbox.OLD_INDEX not in indexes
        assert "outbox_owner_state_seq" in indexes
    finally:
        await consumer.close()
        await bus.close()


async def test_parking_a_group_purged_meanwhile_does_not_bring_it_back(store: port.Store) -> None:
    bus = FlakyBus()
    bus.down = True
    await bus.start()
    service = core.StorageService(store, bus, settings=config.StorageSettings(), exchange=EXCHANGE)
    await service.put_resource(pod("a", 1))  # recorded and committed; the bus is down
    assert await store.count(outbox.OUTBOX, None) == 1
    await store.purge(outbox.OUTBOX, None)  # as if a process that adopted it published it meanwhile
    await service.outbox.close()  # cannot publish: parks what it holds, as an update of its group
    assert await store.count(outbox.OUTBOX, None, include_deleted=True) == 0
    assert await store.count(outbox.OWNERS, None, include_deleted=True) == 0  # nothing left: no lease
    await bus.close()
