"""Health checks of the simulated executor: ``healthy`` in status updates on Mesos' timing, fault
injection over the admin API, and the kill after ``consecutive_failures``."""

from __future__ import annotations

from typing import Any

import aiohttp

from bcs.sim.mesos import sim
from tests.sim.mesos.conftest import MakeScheduler, command_task, launch, until

REASON = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"


def _checked(task_id: str, offer: dict[str, Any], **check: Any) -> dict[str, Any]:
    task = command_task(task_id, offer)
    task["health_check"] = {
        "type": "TCP",
        "tcp": {"port": 31000},
        "delay_seconds": 0.0,
        "interval_seconds": 0.05,
        "timeout_seconds": 1.0,
        "consecutive_failures": 3,
        "grace_period_seconds": 0.0,
        **check,
    }
    return task


def _health(sched: Any, task_id: str) -> list[tuple[str, bool]]:
    return [(s["state"], s["healthy"]) for s in sched.updates(task_id) if "healthy" in s]


async def test_health_is_reported_and_three_failures_kill(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    body = launch(offer, _checked("t1", offer), _checked("t2", offer, consecutive_failures=0))
    assert (await sched.call("ACCEPT", body))[0] == 202
    await until(lambda: _health(sched, "t1") == [("TASK_RUNNING", True)], what="t1 healthy")
    first = next(s for s in sched.updates("t1") if "healthy" in s)
    assert first["reason"] == REASON
    assert first["source"] == "SOURCE_EXECUTOR"
    assert "uuid" in first  # a reliable update, acknowledged like any other

    async with session.post(f"{mesos_sim.url}/admin/tasks/t1/unhealthy", json={}) as r:
        assert r.status == 200
    killed = await sched.wait_state("t1", "TASK_KILLED")
    assert killed["healthy"] is False
    assert killed["reason"] == REASON
    assert "3 consecutive health check failures" in killed["message"]
    assert _health(sched, "t1") == [("TASK_RUNNING", True), ("TASK_RUNNING", False), ("TASK_KILLED", False)]

    # consecutive_failures 0: reported unhealthy, then healthy again, never killed
    await until(lambda: _health(sched, "t2") == [("TASK_RUNNING", True)], what="t2 healthy")
    mesos_sim.set_health("t2", False)
    await until(lambda: ("TASK_RUNNING", False) in _health(sched, "t2"), what="t2 unhealthy")
    mesos_sim.set_health("t2", True)
    await until(lambda: len(_health(sched, "t2")) == 3, what="t2 healthy again")
    assert _health(sched, "t2") == [("TASK_RUNNING", True), ("TASK_RUNNING", False), ("TASK_RUNNING", True)]
    assert mesos_sim.master.find_task("t2").state == "TASK_RUNNING"
    async with session.get(f"{mesos_sim.url}/master/state") as r:
        state = await r.json()
    t2 = next(t for t in state["frameworks"][0]["tasks"] if t["id"] == "t2")
    assert t2["health_check"]["type"] == "TCP"
    assert [s["healthy"] for s in t2["statuses"] if "healthy" in s] == [True, False, True]


async def test_failures_in_the_grace_period_do_not_count(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    await sched.call("ACCEPT", launch(offer, _checked("slow", offer, grace_period_seconds=3600.0)))
    task = mesos_sim.master.find_task("slow")
    mesos_sim.set_health("slow", False)  # failing from its very first check
    await until(lambda: task.health_checks >= 5, what="five failing checks")
    # still in its grace period: nothing reported, nothing counted, not killed
    assert (_health(sched, "slow"), task.health_failures, task.state) == ([], 0, "TASK_RUNNING")
    mesos_sim.set_health("slow", True)
    await until(lambda: _health(sched, "slow") == [("TASK_RUNNING", True)], what="first success reported")
    mesos_sim.set_health("slow", False)  # the grace period ended with that success
    await sched.wait_state("slow", "TASK_KILLED")
    async with session.post(f"{mesos_sim.url}/admin/tasks/nope/unhealthy", json={}) as r:
        assert r.status == 404
