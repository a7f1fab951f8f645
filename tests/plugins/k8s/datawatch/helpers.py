"""Shared pieces of the data watch tests: a running storage service, a running data watch, what the
simulated cluster holds (after the filters) and what storage holds, and quick settings."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

import attrs

from bcs import config
from bcs.core import bus as bus_port
from bcs.core import tasks
from bcs.plugins.k8s.datawatch import cluster, convert, filters, sink
from bcs.plugins.k8s.datawatch import metrics as metrics_mod
from bcs.plugins.k8s.datawatch import settings as settings_mod
from bcs.plugins.k8s.kube import client
from bcs.sim.kube import cluster as sim_cluster
from bcs.storage import outbox
from bcs.storage.service import core
from bcs.storage.store import port

CID = "BCS-K8S-40001"
POD_SPEC = {"containers": [{"name": "main", "image": "busybox:1.36"}]}
# (kind, group, plural) compared between cluster and storage by resourceVersion.
KINDS = (
    ("Pod", "", "pods"),
    ("Deployment", "apps", "deployments"),
    ("ReplicaSet", "apps", "replicasets"),
    ("Namespace", "", "namespaces"),
    ("Service", "", "services"),
    ("ConfigMap", "", "configmaps"),
)


class Simulated(Protocol):
    """A served simulated cluster (``KubeSim``, or the fault tests' ``SimServer``)."""

    cluster: sim_cluster.Cluster


def fast_settings(**changes: Any) -> settings_mod.DataWatchSettings:
    """Quick retries; diffs only when a test asks (or sets ``diff_interval``); ConfigMaps stored."""
    base = settings_mod.DataWatchSettings(
        retry_base=0.05,
        retry_max=0.5,
        write_timeout=3.0,
        diff_interval=3600.0,
        discovery_interval=3600.0,
        shards=4,
        lease_ttl=2,
        watch_timeout=60,
        exceptions=tuple(e for e in settings_mod.DEFAULT_EXCEPTIONS if e != "v1:ConfigMap"),
    )
    return attrs.evolve(base, **changes)


@contextlib.asynccontextmanager
async def storage_service(
    store: port.Store, bus: bus_port.Bus, *, exchange: str = "bcs-storage"
) -> AsyncIterator[core.StorageService]:
    """A storage service on started ports, its outbox drainer running."""
    service = core.StorageService(store, bus, settings=config.StorageSettings(), exchange=exchange)
    drainer = tasks.create_guarded_task(name="test.outbox", coro=service.outbox.run())
    try:
        yield service
    finally:
        await service.close()
        await tasks.stop_tasks([drainer])
        await service.outbox.close()


@contextlib.asynccontextmanager
async def sqlite_service(
    tmp_path: pathlib.Path, bus_settings: config.BusSettings | None = None
) -> AsyncIterator[core.StorageService]:
    """Embedded store and a bus (in-process unless ``bus_settings`` say otherwise), started, with a
    service on them (its bus is ``service.bus``)."""
    bus_settings = bus_settings or config.BusSettings()
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    bus = bus_port.open_bus(bus_settings)
    await store.start()
    await bus.start()
    try:
        async with storage_service(store, bus, exchange=bus_settings.exchange) as service:
            yield service
    finally:
        await bus.close()
        await store.close()


@contextlib.asynccontextmanager
async def watching(
    kube: client.KubeClient,
    target: sink.Sink,
    settings: settings_mod.DataWatchSettings,
    *,
    metrics: metrics_mod.Metrics | None = None,
) -> AsyncIterator[cluster.DataWatch]:
    """The data watch of ``kube``'s cluster running in a task until the block ends."""
    watch = cluster.DataWatch(kube, target, cluster_id=CID, settings=settings, metrics=metrics)
    task = asyncio.create_task(watch.run(), name="test.datawatch")
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class GatedSink(sink.Sink):
    """Another sink whose writes wait while :attr:`gate` is clear (to hold writers on purpose)."""

    def __init__(self, inner: sink.Sink) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.gate.set()

    async def put(self, cluster_id: str, items: Any) -> None:
        await self.gate.wait()
        await self.inner.put(cluster_id, items)

    async def delete(self, cluster_id: str, items: Any) -> None:
        await self.gate.wait()
        await self.inner.delete(cluster_id, items)

    async def write(self, cluster_id: str, puts: Any, deletes: Any) -> None:
        await self.gate.wait()
        await self.inner.write(cluster_id, puts, deletes)

    async def put_events(self, events: Any) -> None:
        await self.gate.wait()
        await self.inner.put_events(events)

    async def stored(self, cluster_id: str, resource_type: str) -> sink.StoredKeys:
        return await self.inner.stored(cluster_id, resource_type)

    async def stored_events(self, cluster_id: str, since: float) -> sink.StoredEvents:
        return await self.inner.stored_events(cluster_id, since)


def cluster_state(
    sim: Simulated, kind: str, group: str, plural: str, settings: settings_mod.DataWatchSettings
) -> dict[str, str]:
    """``{key: resourceVersion}`` of what storage should hold of one kind."""
    keep = filters.ObjectFilter(settings)
    rt = sim.cluster.registry.builtin(group, plural)
    out = {}
    for obj in sim.cluster.store.iter(rt):
        data = obj.decode()
        if keep.keep(kind, data):
            out[convert.join_key(obj.ns, obj.name)] = str(obj.rv)
    return out


def objects(sim: Simulated, group: str, plural: str) -> list[dict[str, Any]]:
    rt = sim.cluster.registry.builtin(group, plural)
    return [o.decode() for o in sim.cluster.store.iter(rt)]


async def differences(
    sim: Simulated,
    service: core.StorageService,
    settings: settings_mod.DataWatchSettings,
    kinds: Iterable[tuple[str, str, str]] = KINDS,
) -> dict[str, tuple[int, int, int]]:
    """Per kind with differences: (missing in storage, stale in storage, extra in storage)."""
    target = sink.ServiceSink(service)
    out = {}
    for kind, group, plural in kinds:
        want = cluster_state(sim, kind, group, plural, settings)
        have = await target.stored(CID, kind)
        missing = sum(1 for k in want if k not in have)
        stale = sum(1 for k, rv in want.items() if k in have and have[k] != rv)
        extra = sum(1 for k in have if k not in want)
        if missing or stale or extra:
            out[kind] = (missing, stale, extra)
    return out


async def converged(
    sim: Simulated,
    service: core.StorageService,
    settings: settings_mod.DataWatchSettings,
    kinds: Iterable[tuple[str, str, str]] = KINDS,
) -> bool:
    return not await differences(sim, service, settings, kinds)


async def outbox_empty(service: core.StorageService) -> bool:
    return not await service.store.count(outbox.OUTBOX, None, include_deleted=True)


def deployment(name: str, replicas: int, *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    match = {"app": name}
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": {**match, **(labels or {})}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]},
            },
        },
    }


def create(sim: Simulated, group: str, plural: str, namespace: str | None, body: dict[str, Any]) -> None:
    rt = sim.cluster.registry.builtin(group, plural)
    sim.cluster.api.create(rt, namespace, body)


def make_namespace(sim: Simulated, name: str) -> None:
    create(sim, "", "namespaces", None, {"metadata": {"name": name}})
