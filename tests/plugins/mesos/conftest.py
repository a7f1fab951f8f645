"""Fixtures: a simulated master, a KV port and a scheduler driving the one against the other.

The ``kv`` fixture is SQLite unless a test parametrizes it indirectly with ``services.KV_KINDS``
(``@pytest.mark.parametrize("kv", KV_KINDS, indirect=True)``): then the scheduler's state goes to the
real etcd as well, under a key prefix of that test alone (``prefix``).
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bcs.core import kv as kv_mod
from bcs.core.offers import pool
from bcs.plugins.mesos import scheduler
from bcs.sim.mesos import sim
from tests import services

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
async def kv(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[kv_mod.KV]:
    kind = getattr(request, "param", "sqlite")
    etcd_url = request.getfixturevalue("etcd_endpoint") if kind == "etcd" else None
    async with services.open_kv(kind, tmp_path=tmp_path, etcd_url=etcd_url) as store:
        yield store


@pytest.fixture
async def prefix(kv: kv_mod.KV) -> AsyncIterator[str]:
    """The KV prefix the scheduler writes under: this test's own, emptied afterwards."""
    name = services.unique_prefix("mesos")
    yield name
    await kv.delete_prefix(name)


@pytest.fixture
async def mesos() -> AsyncIterator[sim.MesosSim]:
    async with sim.MesosSim(agents=6, seed=3, allocation_interval=0.05, cpus=4.0, mem=4096.0) as s:
        yield s


@pytest.fixture
async def make_scheduler(
    kv: kv_mod.KV, prefix: str, mesos: sim.MesosSim
) -> AsyncIterator[Callable[..., Any]]:
    made: list[scheduler.Scheduler] = []

    async def make(**kw: Any) -> scheduler.Scheduler:
        s = scheduler.Scheduler(
            cluster_id=CLUSTER, masters=[mesos.url], kv=kv, prefix=prefix, settings=kw.pop("settings", FAST)
        )
        await s.start()
        made.append(s)
        return s

    yield make
    for s in made:
        await s.stop()


def running(s: scheduler.Scheduler, app: str, ns: str = "defaultGroup") -> list[Any]:
    return [tg for tg in s.tgs_of(ns, app) if tg.status == "Running"]
