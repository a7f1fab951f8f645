"""Scheduler state on the KV port, on SQLite and on the real etcd: the /blueking layout, a restart that
reconciles with the master, and leader election through a lease."""

from __future__ import annotations

import asyncio
import pathlib

import orjson
import pytest

from bcs.plugins.mesos import election, objects
from bcs.sim.mesos import sim
from tests import services
from tests.plugins.mesos.conftest import CLUSTER, app_doc, running
from tests.services import eventually

ON_BOTH = pytest.mark.parametrize("kv", services.KV_KINDS, indirect=True)


@ON_BOTH
async def test_state_layout_mirrors_blueking(make_scheduler, kv, prefix: str) -> None:
    s = await make_scheduler()
    s.submit_app(objects.parse(app_doc(instances=2)))
    await eventually(lambda: len(running(s, "web")) == 2, what="running")
    await s.store.flush()
    root = f"{prefix}mesos/{CLUSTER}/blueking/"
    keys = [kv_.key[len(root) :] for kv_ in await kv.range(root)]
    assert "application/defaultGroup/web" in keys
    assert "framework" in keys
    assert "version/defaultGroup/web/1" in keys
    tg_keys = [k for k in keys if k.startswith("application/defaultGroup/web/")]
    assert sorted(k.rsplit("/", 1)[1].split(".")[0] for k in tg_keys) == ["0", "1"]
    assert all(k.rsplit("/", 1)[1].split(".")[1:4] == ["web", "defaultGroup", CLUSTER] for k in tg_keys)
    stored = orjson.loads((await kv.get(root + tg_keys[0])).value)
    assert stored["status"] == "Running"
    assert stored["agent_id"] in {a.id for a in s.pool.all()} | {tg.agent_id for tg in running(s, "web")}
    s.scale("defaultGroup", "web", 1)
    await eventually(lambda: len(s.tgs_of("defaultGroup", "web")) == 1, what="scaled to 1")
    await s.store.flush()
    left = [kv_.key for kv_ in await kv.range(f"{root}application/defaultGroup/web/")]
    assert [k.rsplit("/", 1)[1].split(".")[0] for k in left] == ["0"]


@ON_BOTH
async def test_a_restart_reconciles_and_never_duplicates(make_scheduler, kv, mesos: sim.MesosSim) -> None:
    """Stopped with three taskgroups running; one fails while no scheduler is there. The next scheduler
    loads its state from the KV port, learns of the failure from the master and replaces that one
    taskgroup only."""
    s = await make_scheduler()
    s.submit_app(objects.parse(app_doc(instances=3, unique=True)))
    await eventually(lambda: len(running(s, "web")) == 3, what="3 running")
    before = {tg.instance: tg.id for tg in running(s, "web")}
    await s.stop()
    victim = next(tg for tg in s.tgs_of("defaultGroup", "web") if tg.instance == 1)
    mesos.fail_task(next(iter(victim.tasks)))

    s2 = await make_scheduler()
    assert {tg.instance: tg.id for tg in s2.tgs_of("defaultGroup", "web")} == before  # loaded, not relaunched
    await eventually(
        lambda: len(running(s2, "web")) == 3 and before[1] not in s2.taskgroups,
        timeout=20,
        what="the failed instance replaced after the restart",
    )
    now = {tg.instance: tg.id for tg in running(s2, "web")}
    assert (now[0], now[2]) == (before[0], before[2])
    assert now[1] != before[1]
    live = [t for t in mesos.tasks() if t.state in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING")]
    assert len(live) == 3
    assert s2.apps[("defaultGroup", "web")].restarts == {1: 1}
    assert s2.client is not None
    assert s2.client.framework_id == s.client.framework_id  # the same framework, failed over


async def test_one_leader_at_a_time_and_takeover(tmp_path: pathlib.Path, etcd_endpoint: str) -> None:
    key = f"/{services.unique_prefix('elect')}/leader"
    log: list[str] = []

    def make(name: str) -> election.Election:
        async def elected() -> None:
            log.append(f"{name}+")

        async def deposed() -> None:
            log.append(f"{name}-")

        return election.Election(store, key, name, ttl=2, on_elected=elected, on_deposed=deposed)

    async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=etcd_endpoint) as store:
        first, second = make("a"), make("b")
        t1 = asyncio.get_running_loop().create_task(first.run())
        await eventually(lambda: first.leader, what="a leads")
        t2 = asyncio.get_running_loop().create_task(second.run())
        try:
            assert not second.leader
            t1.cancel()
            await asyncio.gather(t1, return_exceptions=True)
            await eventually(lambda: second.leader, what="b takes over")
            assert log == ["a+", "a-", "b+"]
            assert (await store.get(key)).value == b"b"
        finally:
            t2.cancel()
            await asyncio.gather(t1, t2, return_exceptions=True)
