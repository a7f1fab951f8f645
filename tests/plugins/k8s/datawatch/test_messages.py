"""One message per change: a consumer bound to the storage exchange on RabbitMQ gets exactly one
``update`` per created or changed Pod and one ``delete`` per deleted Pod, and a burst of changes to one
Pod collapses to (about) one message carrying the latest state. Changes made while RabbitMQ is down
(an isolated broker this test stops, never the shared one) are all delivered once it is back."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from bcs import config
from bcs.core import bus as bus_port
from bcs.plugins.k8s.datawatch import metrics as metrics_mod
from bcs.plugins.k8s.datawatch import sink
from bcs.plugins.k8s.kube import client
from bcs.storage.store import port
from tests.core.bus.broker import IsolatedBroker
from tests.plugins.k8s.datawatch import helpers
from tests.plugins.k8s.datawatch.conftest import Consumer
from tests.plugins.k8s.datawatch.processes import SimServer
from tests.services import eventually

KINDS = (("Pod", "", "pods"),)


async def test_each_change_is_one_message_and_bursts_collapse(
    tmp_path: pathlib.Path, rabbit: tuple[dict[str, Any], Consumer]
) -> None:
    bus_section, consumer = rabbit
    settings = helpers.fast_settings()
    async with (
        helpers.sqlite_service(tmp_path, config.BusSettings(**bus_section)) as service,
        SimServer(nodes=1, controllers=False) as sim,
        await client.connect(server=sim.url) as kube,
        helpers.watching(kube, helpers.GatedSink(sink.ServiceSink(service)), settings) as watch,
    ):
        target = watch.sink
        assert isinstance(target, helpers.GatedSink)
        api, pods = sim.cluster.api, sim.cluster.registry.builtin("", "pods")
        helpers.make_namespace(sim, "m")

        async def settled(total: int) -> list[bus_port.Message]:
            await eventually(lambda: helpers.converged(sim, service, settings, KINDS), what="convergence")
            await eventually(lambda: helpers.outbox_empty(service), what="publication")
            await eventually(lambda: len(consumer.received) >= total, what=f"{total} messages")
            return consumer.received

        for i in range(100):
            api.create(pods, "m", {"metadata": {"name": f"p{i}"}, "spec": helpers.POD_SPEC})
        received = await settled(100)
        assert [m.headers["event"] for m in received] == ["update"] * 100
        assert {m.headers["resourceName"] for m in received} == {f"p{i}" for i in range(100)}

        for i in range(40):
            api.mutate(
                pods, "m", f"p{i}", lambda o: o["metadata"].setdefault("labels", {}).update(touched="yes")
            )
        received = await settled(140)
        changed = received[100:]
        assert sorted(m.headers["resourceName"] for m in changed) == sorted(f"p{i}" for i in range(40))
        assert all(json.loads(m.body)["metadata"]["labels"]["touched"] == "yes" for m in changed)

        # A burst while the writers are busy (held here): it collapses to the latest state.
        target.gate.clear()
        for n in range(100):
            api.mutate(
                pods,
                "m",
                "p99",
                lambda o, n=n: o["metadata"].setdefault("labels", {}).update(burst=str(n)),
            )
        cached = watch.watchers["Pod"].informer
        await eventually(
            lambda: (cached.get("m/p99")["metadata"].get("labels") or {}).get("burst") == "99",
            what="the burst seen",
        )
        target.gate.set()
        await eventually(lambda: helpers.converged(sim, service, settings, KINDS), what="convergence")
        await eventually(lambda: helpers.outbox_empty(service), what="publication")
        await eventually(
            lambda: json.loads(consumer.received[-1].body)["metadata"]["labels"].get("burst") == "99",
            what="the burst's last state",
        )
        burst = len(consumer.received) - 140
        # One write held when the burst began (an early state), then one of the latest.
        assert 1 <= burst <= 2, f"a burst of 100 changes gave {burst} messages"

        for i in range(60, 90):
            api.delete(pods, "m", f"p{i}", {"gracePeriodSeconds": 0})
        received = await settled(170 + burst)
        deletes = received[140 + burst :]
        assert [m.headers["event"] for m in deletes] == ["delete"] * 30
        assert sorted(m.headers["resourceName"] for m in deletes) == sorted(f"p{i}" for i in range(60, 90))
        assert len(received) == 170 + burst  # nothing more, nothing twice
        assert len({m.message_id for m in received}) == len(received)


@pytest.mark.timeout(400)
async def test_changes_made_while_rabbitmq_is_down_are_all_delivered_after(tmp_path: pathlib.Path) -> None:
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    await store.start()
    settings = helpers.fast_settings()
    metrics = metrics_mod.Metrics()
    async with IsolatedBroker() as broker:
        bus_settings = config.BusSettings(
            backend="rabbitmq", url=broker.url, exchange="bcs-storage", timeout=3.0
        )
        bus, listener = bus_port.open_bus(bus_settings), bus_port.open_bus(bus_settings)
        await bus.start()
        await listener.start()
        # A durable queue, as real consumers use: it keeps what arrives while the consumer reconnects.
        binding = bus_port.Binding(exchange="bcs-storage", routing_key="Pod", queue="datawatch-consumer")
        consumer = Consumer(await listener.subscribe(binding))
        try:
            async with (
                helpers.storage_service(store, bus) as service,
                SimServer(nodes=1, controllers=False) as sim,
                await client.connect(server=sim.url) as kube,
                helpers.watching(kube, sink.ServiceSink(service), settings, metrics=metrics),
            ):
                api, pods = sim.cluster.api, sim.cluster.registry.builtin("", "pods")
                helpers.make_namespace(sim, "m")
                for i in range(30):
                    api.create(pods, "m", {"metadata": {"name": f"p{i}"}, "spec": helpers.POD_SPEC})
                await eventually(lambda: len(consumer.received) >= 30, timeout=20, what="the first messages")

                await broker.stop()
                for i in range(30, 50):
                    api.create(pods, "m", {"metadata": {"name": f"p{i}"}, "spec": helpers.POD_SPEC})
                for i in range(20):
                    api.mutate(
                        pods, "m", f"p{i}", lambda o: o["metadata"].setdefault("labels", {}).update(v="2")
                    )
                for i in range(40, 50):
                    api.delete(pods, "m", f"p{i}", {"gracePeriodSeconds": 0})
                await eventually(
                    lambda: helpers.converged(sim, service, settings, KINDS),
                    what="storage, with the bus down",
                )
                await broker.start()

                await eventually(
                    lambda: _complete(consumer.received), timeout=180, what="every change delivered"
                )
                await eventually(lambda: helpers.outbox_empty(service), what="the outbox drained")
        finally:
            await consumer.close()
            await listener.close()
            await bus.close()
            await store.close()
    # Redeliveries repeat a message id; no change is ever announced twice under different ids.
    seen: dict[tuple[str, str, str], str] = {}
    for m in consumer.received:
        change = (
            m.headers["resourceName"],
            m.headers["event"],
            json.loads(m.body)["metadata"]["resourceVersion"],
        )
        assert seen.setdefault(change, m.message_id) == m.message_id, f"{change} published twice"
    assert metrics.value("bcs_datawatch_errors_total", cluster=helpers.CID, kind="Pod") == 0


def _complete(received: list[bus_port.Message]) -> bool:
    """Every pod's last message is its final state: relabelled p0-p19, p20-p39 as created, p40-p49
    deleted (or never announced at all, when created and deleted before the watch wrote them)."""
    last: dict[str, tuple[str, dict[str, Any]]] = {}
    for m in received:  # in order per object
        last[m.headers["resourceName"]] = (m.headers["event"], json.loads(m.body))
    for i in range(50):
        event, body = last.get(f"p{i}", ("", {}))
        labels = (body.get("metadata") or {}).get("labels") or {}
        if i < 20 and (event != "update" or labels.get("v") != "2"):
            return False
        if 20 <= i < 40 and event != "update":
            return False
        if i >= 40 and event not in ("delete", ""):
            return False
    return True
