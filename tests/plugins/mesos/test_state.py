"""Scheduler state on the KV port: the /blueking layout, and leader election through a lease (etcd)."""

from __future__ import annotations

import asyncio
import pathlib

from bcs.plugins.mesos import election, objects
from tests import services
from tests.plugins.mesos.conftest import CLUSTER, app_doc, running
from tests.services import eventually


async def test_state_layout_mirrors_blueking(make_scheduler, kv) -> None:
    s = await make_scheduler()
    s.submit_app(objects.parse(app_doc(instances=2)))
    await eventually(lambda: len(running(s, "web")) == 2, what="running")
    await s.store.flush()
    root = f"/bcs/mesos/{CLUSTER}/blueking/"
    keys = [kv_.key[len(root) :] for kv_ in await kv.range(root)]
    assert "application/defaultGroup/web" in keys
    assert "framework" in keys
    assert "version/defaultGroup/web/1" in keys
    tg_keys = [k for k in keys if k.startswith("application/defaultGroup/web/")]
    assert sorted(k.rsplit("/", 1)[1].split(".")[0] for k in tg_keys) == ["0", "1"]
    assert all(k.rsplit("/", 1)[1].split(".")[1:4] == ["web", "defaultGroup", CLUSTER] for k in tg_keys)


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
