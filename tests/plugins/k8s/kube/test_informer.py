"""The informer against the simulator: list, watch, bookmarks, resume, 410 relist with a diff."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bcs.plugins.k8s.kube import client, informer
from bcs.sim.kube import cluster
from tests.plugins.k8s.conftest import until

CONFIGMAPS = client.Resource("", "v1", "configmaps", "ConfigMap")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.events.append((kind, informer.key_of(obj)))

    def named(self, prefix: str) -> list[tuple[str, str]]:
        return [e for e in self.events if e[1].startswith(prefix)]


@pytest.fixture
async def sim() -> AsyncIterator[cluster.KubeSim]:
    async with cluster.KubeSim(nodes=1, tls=True, controllers=False, bookmark_interval=0.2) as s:
        yield s


async def _start(inf: informer.Informer) -> asyncio.Task[None]:
    task = asyncio.create_task(inf.run(), name="informer")
    await asyncio.wait_for(inf.wait_synced(), 10)
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_list_then_watch_keeps_the_cache(sim: cluster.KubeSim) -> None:
    async with await client.connect(sim.kubeconfig) as kube:
        await kube.create(CONFIGMAPS, "default", {"metadata": {"name": "t-a"}})
        inf = informer.Informer(kube, CONFIGMAPS, namespace="default", page_size=1)
        rec = Recorder()
        inf.add_handler(rec)
        task = await _start(inf)
        try:
            assert rec.named("default/t-") == [("ADDED", "default/t-a")]
            await kube.create(CONFIGMAPS, "default", {"metadata": {"name": "t-b"}})
            await kube.patch(CONFIGMAPS, "default", "t-a", {"data": {"x": "1"}})
            await kube.delete(CONFIGMAPS, "default", "t-b")
            await until(lambda: len(rec.named("default/t-")) == 4, what="watch events")
            assert rec.named("default/t-")[1:] == [
                ("ADDED", "default/t-b"),
                ("MODIFIED", "default/t-a"),
                ("DELETED", "default/t-b"),
            ]
            assert inf.get("default/t-a")["data"] == {"x": "1"}
            assert inf.get("default/t-b") is None
            # Bookmarks move the resourceVersion on although nothing in the namespace changed.
            other = await kube.create(CONFIGMAPS, "kube-system", {"metadata": {"name": "elsewhere"}})
            rv = int(other["metadata"]["resourceVersion"])
            await until(lambda: int(inf.resource_version) >= rv, what="a bookmark")
            assert not rec.named("kube-system/")
        finally:
            await _stop(task)


async def test_expired_resume_relists_and_reports_what_was_missed(sim: cluster.KubeSim) -> None:
    async with await client.connect(sim.kubeconfig) as kube:
        for name in ("keep", "gone", "edit"):
            await kube.create(CONFIGMAPS, "default", {"metadata": {"name": name}})
        inf = informer.Informer(kube, CONFIGMAPS, namespace="default", backoff_initial=0.05)
        rec = Recorder()
        inf.add_handler(rec)
        task = await _start(inf)
        await _stop(task)
        assert inf.relists == 1
        # While the informer is down, change things and compact the history past its resourceVersion.
        sim.cluster.store.history_max = 2
        await kube.delete(CONFIGMAPS, "default", "gone")
        await kube.patch(CONFIGMAPS, "default", "edit", {"data": {"v": "2"}})
        await kube.create(CONFIGMAPS, "default", {"metadata": {"name": "new"}})
        for i in range(5):
            await kube.create(CONFIGMAPS, "kube-system", {"metadata": {"name": f"churn-{i}"}})
        rec.events.clear()
        task = await _start(inf)
        try:
            await until(lambda: inf.relists == 2, what="a relist after 410")
            assert sorted(rec.events) == [
                ("ADDED", "default/new"),
                ("DELETED", "default/gone"),
                ("MODIFIED", "default/edit"),
            ]
            assert sorted(k for k in inf.cache if not k.endswith("kube-root-ca.crt")) == [
                "default/edit",
                "default/keep",
                "default/new",
            ]
        finally:
            await _stop(task)


async def test_resume_without_expiry_does_not_relist(sim: cluster.KubeSim) -> None:
    async with await client.connect(sim.kubeconfig) as kube:
        inf = informer.Informer(kube, CONFIGMAPS, namespace="default")
        rec = Recorder()
        inf.add_handler(rec)
        await _stop(await _start(inf))
        await kube.create(CONFIGMAPS, "default", {"metadata": {"name": "while-down"}})
        task = await _start(inf)
        try:
            await until(lambda: ("ADDED", "default/while-down") in rec.events, what="the missed event")
            assert inf.relists == 1
        finally:
            await _stop(task)


async def test_a_failing_handler_does_not_stop_the_informer(sim: cluster.KubeSim) -> None:
    async with await client.connect(sim.kubeconfig) as kube:
        inf = informer.Informer(kube, CONFIGMAPS, namespace="default")
        rec = Recorder()

        def broken(kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
            raise RuntimeError("handler bug")

        inf.add_handler(broken)
        inf.add_handler(rec)
        task = await _start(inf)
        try:
            await kube.create(CONFIGMAPS, "default", {"metadata": {"name": "h"}})
            await until(lambda: ("ADDED", "default/h") in rec.events, what="event past a broken handler")
        finally:
            await _stop(task)


async def test_unreachable_server_is_retried() -> None:
    async with await client.connect(server="http://127.0.0.1:1", timeout=1) as kube:
        inf = informer.Informer(kube, CONFIGMAPS, backoff_initial=0.01, backoff_max=0.02)
        task = asyncio.create_task(inf.run())
        try:
            await until(lambda: inf.failures >= 3, what="repeated attempts")
            assert not inf.synced
            assert not task.done()
        finally:
            await _stop(task)


async def test_a_burst_of_watch_events_leaves_room_for_other_tasks(sim: cluster.KubeSim) -> None:
    # A watch delivers a burst without the stream ever suspending (it is all buffered): the informer
    # must still let the rest of the process (the data watch's writers, the outbox) run between events.
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    seen: list[int] = []  # the tick count as each burst event was handled
    async with await client.connect(sim.kubeconfig) as kube:
        inf = informer.Informer(kube, CONFIGMAPS, namespace="default")
        inf.add_handler(
            lambda kind, obj, old: seen.append(ticks) if obj["metadata"]["name"].startswith("b-") else None
        )
        task = await _start(inf)
        other = asyncio.create_task(ticker())
        try:
            configmaps = sim.cluster.registry.builtin("", "configmaps")
            for i in range(3000):  # one burst, made without yielding
                sim.cluster.api.create(configmaps, "default", {"metadata": {"name": f"b-{i}"}})
            await until(lambda: len(seen) == 3000, what="the burst")
        finally:
            other.cancel()
            await asyncio.gather(other, return_exceptions=True)
            await _stop(task)
    longest, run = 1, 1
    for before, after in itertools.pairwise(seen):
        run = run + 1 if after == before else 1
        longest = max(longest, run)
    assert longest <= informer.YIELD_EVERY
