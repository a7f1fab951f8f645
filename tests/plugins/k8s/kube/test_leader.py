"""Lease-based leader election against the simulator: one leader, release hand-over, crash hand-over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from bcs.plugins.k8s.kube import client, leader
from tests.plugins.k8s.conftest import until

FAST = {"lease_duration": 1.5, "renew_deadline": 1.0, "retry_period": 0.2}


def _elector(kube: client.KubeClient, identity: str, leading: set[str], **kw: Any) -> leader.LeaderElector:
    def lead() -> Coroutine[Any, Any, None]:
        async def work() -> None:
            leading.add(identity)
            try:
                await asyncio.Event().wait()
            finally:
                leading.discard(identity)

        return work()

    return leader.LeaderElector(
        kube, name="test-lease", namespace="default", identity=identity, lead=lead, **{**FAST, **kw}
    )


async def _stop(*tasks: asyncio.Task[Any]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_timing_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        leader.LeaderElector(
            None, name="x", namespace="y", identity="z", lead=lambda: None,  # type: ignore[arg-type]
            lease_duration=1, renew_deadline=2, retry_period=0.1,
        )  # fmt: skip


async def _holder(kube: client.KubeClient) -> str:
    lease = await kube.get(leader.LEASES, "default", "test-lease")
    return lease["spec"].get("holderIdentity") or ""


async def test_one_leader_and_release_hands_over(leases: client.KubeClient) -> None:
    leading: set[str] = set()
    a, b = _elector(leases, "a", leading), _elector(leases, "b", leading)
    ta = asyncio.create_task(a.run())
    await until(lambda: leading == {"a"}, what="a leads")
    tb = asyncio.create_task(b.run())
    try:
        await until(lambda: b.observed_holder == "a", what="b sees a's lease")
        assert leading == {"a"}
        assert not b.is_leader
        assert await _holder(leases) == "a"
        await _stop(ta)  # graceful: releases the lease
        assert await _holder(leases) in ("", "b")
        await until(lambda: leading == {"b"}, what="b takes over")
        lease = await leases.get(leader.LEASES, "default", "test-lease")
        assert lease["spec"]["holderIdentity"] == "b"
        assert lease["spec"]["leaseTransitions"] == 1
    finally:
        await _stop(ta, tb)


async def test_crashed_leader_is_replaced_after_the_lease_expires(leases: client.KubeClient) -> None:
    leading: set[str] = set()
    a = _elector(leases, "a", leading, release_on_cancel=False)
    b = _elector(leases, "b", leading, release_on_cancel=False)
    ta = asyncio.create_task(a.run())
    await until(lambda: leading == {"a"}, what="a leads")
    tb = asyncio.create_task(b.run())
    try:
        await until(lambda: b.observed_holder == "a", what="b sees a's lease")
        await _stop(ta)  # a dies without releasing: its lease still names it
        assert await _holder(leases) == "a"
        assert not b.is_leader
        await until(lambda: leading == {"b"}, timeout=FAST["lease_duration"] * 4, what="b takes over")
    finally:
        await _stop(ta, tb)


async def test_leader_whose_work_ends_gives_the_lease_up(leases: client.KubeClient) -> None:
    runs: list[str] = []

    def lead_once() -> Callable[[], Coroutine[Any, Any, None]]:
        async def work() -> None:
            runs.append("done")

        return work

    e = leader.LeaderElector(leases, name="once", namespace="default", identity="x", lead=lead_once(), **FAST)
    task = asyncio.create_task(e.run())
    try:
        await until(lambda: len(runs) >= 2, what="work ran twice")
        # Re-acquiring a lease this replica held means it had been emptied in between.
        lease = await leases.get(leader.LEASES, "default", "once")
        assert lease["spec"]["leaseTransitions"] >= 1
    finally:
        await _stop(task)
