"""The Mesos data watch against a real storage service (SQLite): one write per pass, deletes included."""

from __future__ import annotations

import pathlib
from typing import Any

import attrs

from bcs import config
from bcs.core import bus as bus_port
from bcs.plugins.mesos import watch
from bcs.storage import outbox
from bcs.storage.service import core
from bcs.storage.store import conditions as c
from bcs.storage.store import port
from tests.plugins.mesos.conftest import CLUSTER


@attrs.define
class SchedulerState:
    """What the data watch reads of a scheduler: its records (objects only here)."""

    cluster_id: str = CLUSTER
    apps: dict[Any, Any] = attrs.Factory(dict)
    taskgroups: dict[Any, Any] = attrs.Factory(dict)
    deployments: dict[Any, Any] = attrs.Factory(dict)
    objects: dict[tuple[str, str, str], dict[str, Any]] = attrs.Factory(dict)


def configmap(name: str, value: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": "defaultGroup"}
    return {"kind": "configmap", "metadata": meta, "data": {"v": value}}


async def test_a_pass_is_one_write_with_its_deletes(tmp_path: pathlib.Path) -> None:
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    bus = bus_port.open_bus(config.BusSettings())
    await store.start()
    await bus.start()
    # No drainer runs: every write's outbox group stays in the store, to be counted.
    service = core.StorageService(store, bus, settings=config.StorageSettings(), exchange="bcs-storage")
    state = SchedulerState()
    dw = watch.DataWatch(state, service)  # type: ignore[arg-type]  # a stand-in for the scheduler
    live = c.Eq("clusterId", CLUSTER)
    try:
        for name in ("a", "b", "c"):
            state.objects[("configmap", "defaultGroup", name)] = configmap(name, "1")
        await dw.sync()
        assert await store.count("configmap", live) == 3
        assert await store.count(outbox.OUTBOX, None) == 1

        del state.objects[("configmap", "defaultGroup", "a")]
        del state.objects[("configmap", "defaultGroup", "b")]
        state.objects[("configmap", "defaultGroup", "c")] = configmap("c", "2")
        await dw.sync()
        assert await store.count(outbox.OUTBOX, None) == 2  # the update and both deletes: one write
        docs = await store.find("configmap", c.Query(live))
        assert [(d["resourceName"], d["data"]["data"]) for d in docs] == [("c", {"v": "2"})]
        assert await store.count("configmap", live, include_deleted=True) == 3  # soft-deleted, not gone

        await dw.sync()  # nothing changed: nothing written
        assert await store.count(outbox.OUTBOX, None) == 2
    finally:
        await service.close()
        await service.outbox.close()
        await bus.close()
        await store.close()
