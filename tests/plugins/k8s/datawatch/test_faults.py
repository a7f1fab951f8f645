"""Faults the data watch must heal: the store down during churn, a watch that expired (410) while
objects were deleted, a restart in the middle of churn, and writes lost behind its back."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Awaitable, Callable

import pytest

from bcs import config
from bcs.core import bus as bus_port
from bcs.plugins.k8s.datawatch import metrics as metrics_mod
from bcs.plugins.k8s.datawatch import sink
from bcs.plugins.k8s.kube import client
from bcs.sim.kube import cluster as sim_cluster
from bcs.storage.store import conditions as c
from bcs.storage.store import port
from tests.plugins.k8s.datawatch import helpers
from tests.plugins.k8s.datawatch.processes import SecantusProcess, SimServer
from tests.services import eventually

POD_KINDS = (("Pod", "", "pods"), ("Namespace", "", "namespaces"))


def _errors(metrics: metrics_mod.Metrics, kind: str) -> float:
    return metrics.value("bcs_datawatch_errors_total", cluster=helpers.CID, kind=kind)


# Deadlines, not durations: on a loaded 2-core CI machine SecantusDB restarts and catches up slowly.
@pytest.mark.timeout(400)
async def test_store_down_during_churn_converges_after_it_returns(tmp_path: pathlib.Path) -> None:
    mongo = SecantusProcess(tmp_path / "mongo")
    await asyncio.to_thread(mongo.start)
    store = port.open_store(
        config.StoreSettings(backend="mongo", url=mongo.url, database="bcs", timeout=0.5), data_dir=tmp_path
    )
    bus = bus_port.open_bus(config.BusSettings())
    await store.start()
    await bus.start()
    settings = helpers.fast_settings()
    metrics = metrics_mod.Metrics()
    try:
        async with (
            helpers.storage_service(store, bus) as service,
            sim_cluster.KubeSim(nodes=2, seed=3, tls=True, churn=20.0, node_heartbeat_interval=0) as sim,
            await client.connect(sim.kubeconfig) as kube,
            helpers.watching(kube, sink.ServiceSink(service), settings, metrics=metrics),
        ):
            await eventually(lambda: len(helpers.objects(sim, "", "pods")) >= 40, timeout=20, what="churn")
            sim.cluster.churn.rate = 0  # pauses: "equal" means something only once the cluster settles
            await eventually(
                lambda: helpers.converged(sim, service, settings, POD_KINDS), timeout=30, what="first sync"
            )
            sim.cluster.churn.rate = 20.0
            await asyncio.to_thread(mongo.stop)
            changes = sim.cluster.churn.changes
            await eventually(
                lambda: sim.cluster.churn.changes >= changes + 40, timeout=60, what="churn meanwhile"
            )
            await eventually(lambda: _errors(metrics, "Pod") > 0, timeout=60, what="failed writes")
            await asyncio.to_thread(mongo.start)
            sim.cluster.churn.rate = 0
            await eventually(
                lambda: helpers.converged(sim, service, settings, POD_KINDS), timeout=180, what="convergence"
            )
    finally:
        await bus.close()
        await store.close()
        await asyncio.to_thread(mongo.stop)


async def test_expired_watch_relists_and_applies_deletes_made_meanwhile(tmp_path: pathlib.Path) -> None:
    settings = helpers.fast_settings()
    async with (
        helpers.sqlite_service(tmp_path) as service,
        SimServer(nodes=1, controllers=False) as sim,
        await client.connect(server=sim.url) as kube,
        helpers.watching(kube, sink.ServiceSink(service), settings) as watch,
    ):
        helpers.make_namespace(sim, "x")
        for i in range(40):
            helpers.create(sim, "", "pods", "x", {"metadata": {"name": f"p{i}"}, "spec": helpers.POD_SPEC})
        await eventually(lambda: helpers.converged(sim, service, settings, POD_KINDS), what="first sync")
        pods = watch.watchers["Pod"].informer
        assert pods.relists == 1

        await sim.unserve()
        pod_rt = sim.cluster.registry.builtin("", "pods")
        for i in range(0, 40, 2):
            sim.cluster.api.delete(pod_rt, "x", f"p{i}", {"gracePeriodSeconds": 0})
        sim.cluster.api.create(pod_rt, "x", {"metadata": {"name": "new"}, "spec": helpers.POD_SPEC})
        # The apiserver forgets that history: a watch resuming before it gets 410 Gone.
        sim.cluster.store.history.clear()
        sim.cluster.store.compacted_rv = sim.cluster.store.rv
        await sim.serve()

        await eventually(lambda: pods.relists == 2, what="a relist after 410")
        await eventually(lambda: helpers.converged(sim, service, settings, POD_KINDS), what="deletes applied")
        stored = await sink.ServiceSink(service).stored(helpers.CID, "Pod")
        assert sorted(stored) == sorted(["x/new"] + [f"x/p{i}" for i in range(1, 40, 2)])


async def test_restart_mid_churn_leaves_nothing_missing_after_the_next_diff(tmp_path: pathlib.Path) -> None:
    settings = helpers.fast_settings()
    async with (
        helpers.sqlite_service(tmp_path) as service,
        sim_cluster.KubeSim(nodes=2, seed=4, tls=True, churn=40.0, node_heartbeat_interval=0) as sim,
        await client.connect(sim.kubeconfig) as kube,
    ):
        target = sink.ServiceSink(service)
        async with helpers.watching(kube, target, settings):
            await eventually(lambda: len(helpers.objects(sim, "", "pods")) >= 40, timeout=20, what="churn")
            sim.cluster.churn.rate = 0  # pauses: "equal" means something only once the cluster settles
            await eventually(
                lambda: helpers.converged(sim, service, settings, POD_KINDS), timeout=30, what="first sync"
            )
            sim.cluster.churn.rate = 40.0
        # Down: the churn goes on without us.
        changes = sim.cluster.churn.changes
        await eventually(
            lambda: sim.cluster.churn.changes >= changes + 60, timeout=60, what="churn meanwhile"
        )
        assert await helpers.differences(sim, service, settings, POD_KINDS)
        metrics = metrics_mod.Metrics()
        async with helpers.watching(kube, target, settings, metrics=metrics) as watch:
            await eventually(lambda: watch.synced, timeout=20, what="the initial diff")
            sim.cluster.churn.rate = 0
            await eventually(
                lambda: helpers.converged(sim, service, settings, POD_KINDS), timeout=30, what="convergence"
            )
            repaired = metrics.value("bcs_datawatch_diff_repairs_total", cluster=helpers.CID, kind="Pod")
            assert repaired > 0
            # What did not change while we were down was not written again.
            ns_writes = metrics.value(
                "bcs_datawatch_writes_total", cluster=helpers.CID, kind="Namespace", action="put"
            )
            assert ns_writes == 0

            # A write lost behind the watch's back (storage restored from an old backup, say) comes
            # back with the next periodic diff, and nothing else is rewritten.
            lost = sorted(await target.stored(helpers.CID, "Pod"))[:5]
            for key in lost:
                namespace, name = key.split("/")
                await service.store.purge(
                    "Pod", c.And(c.Eq("namespace", namespace), c.Eq("resourceName", name))
                )
            before = metrics.value("bcs_datawatch_diff_repairs_total", cluster=helpers.CID, kind="Pod")
            await watch.diff_all()
            after = metrics.value("bcs_datawatch_diff_repairs_total", cluster=helpers.CID, kind="Pod")
            assert after - before == len(lost)
            await eventually(
                lambda: helpers.converged(sim, service, settings, POD_KINDS), timeout=30, what="healed"
            )


async def test_a_one_namespace_watch_leaves_other_namespaces_alone(tmp_path: pathlib.Path) -> None:
    settings = helpers.fast_settings(namespace="mine")
    async with (
        helpers.sqlite_service(tmp_path) as service,
        SimServer(nodes=1, controllers=False) as sim,
        await client.connect(server=sim.url) as kube,
    ):
        target = sink.ServiceSink(service)
        other = sink.Put("Pod", "theirs", "kept", {"metadata": {"name": "kept", "namespace": "theirs"}})
        await target.put(helpers.CID, [other])  # written by someone else (another agent, say)
        for ns in ("mine", "theirs"):
            helpers.make_namespace(sim, ns)
            helpers.create(sim, "", "pods", ns, {"metadata": {"name": f"{ns}-pod"}, "spec": helpers.POD_SPEC})

        async def stored() -> list[str]:
            return sorted(await target.stored(helpers.CID, "Pod"))

        async with helpers.watching(kube, target, settings) as watch:
            await eventually(lambda: watch.synced, what="the initial diff")
            await eventually(
                lambda: _equals(stored, ["mine/mine-pod", "theirs/kept"]), what="the watched namespace stored"
            )
            await watch.diff_all()
            assert await stored() == ["mine/mine-pod", "theirs/kept"]


async def _equals(get: Callable[[], Awaitable[list[str]]], wanted: list[str]) -> bool:
    return await get() == wanted
