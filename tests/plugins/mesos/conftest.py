"""Fixtures: a simulated master, a KV port and a scheduler driving the one against the other."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bcs import config
from bcs.core.kv import sqlite
from bcs.core.offers import pool
from bcs.plugins.mesos import scheduler
from bcs.sim.mesos import sim

CLUSTER = "BCS-MESOS-10001"
FAST = scheduler.SchedulerSettings(tick=0.1, refuse_seconds=0.05, kill_retry=2.0, pool=pool.PoolSettings())


def app_doc(
    name: str = "web", *, instances: int = 3, image: str = "nginx:1", unique: bool = False, **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v4",
        "kind": "application",
        "restartPolicy": {"policy": "Always", "interval": 0, "backoff": 0},
        "killPolicy": {"gracePeriod": 1},
        "metadata": {"name": name, "namespace": "defaultGroup", "labels": {"app": name}},
        "spec": {
            "instance": instances,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "image": image,
                            "type": "MESOS",
                            "ports": [{"containerPort": 80, "hostPort": 0, "name": "http"}],
                            "resources": {"limits": {"cpu": "0.5", "memory": "128"}},
                        }
                    ]
                }
            },
        },
    }
    if unique:
        doc["constraint"] = {"intersectionItem": [{"unionData": [{"name": "hostname", "operate": "UNIQUE"}]}]}
    doc.update(extra)
    return doc


@pytest.fixture
async def kv(tmp_path: pathlib.Path) -> AsyncIterator[sqlite.SqliteKV]:
    store = sqlite.SqliteKV(tmp_path / "kv.sqlite3", config.KvSettings())
    await store.start()
    yield store
    await store.close()


@pytest.fixture
async def mesos() -> AsyncIterator[sim.MesosSim]:
    async with sim.MesosSim(agents=6, seed=3, allocation_interval=0.05, cpus=4.0, mem=4096.0) as s:
        yield s


@pytest.fixture
async def make_scheduler(kv: sqlite.SqliteKV, mesos: sim.MesosSim) -> AsyncIterator[Callable[..., Any]]:
    made: list[scheduler.Scheduler] = []

    async def make(**kw: Any) -> scheduler.Scheduler:
        s = scheduler.Scheduler(
            cluster_id=CLUSTER, masters=[mesos.url], kv=kv, prefix="/bcs/", settings=kw.pop("settings", FAST)
        )
        await s.start()
        made.append(s)
        return s

    yield make
    for s in made:
        await s.stop()


def running(s: scheduler.Scheduler, app: str, ns: str = "defaultGroup") -> list[Any]:
    return [tg for tg in s.tgs_of(ns, app) if tg.status == "Running"]
