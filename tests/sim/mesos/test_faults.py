"""Faults and failover: agents lost and back, master restarts, framework failover and removal."""

from __future__ import annotations

import aiohttp

from bcs.sim.mesos import sim, state
from tests.sim.mesos.conftest import (
    JSON,
    MakeScheduler,
    Scheduler,
    command_task,
    framework_info,
    launch,
    until,
)


async def _running(sched: Scheduler, task_id: str, offer: dict, refuse: float = 0.0) -> None:  # type: ignore[type-arg]
    body = launch(offer, command_task(task_id, offer), refuse=refuse)
    assert (await sched.call("ACCEPT", body))[0] == 202
    await sched.wait_state(task_id, "TASK_RUNNING")


async def test_agent_lost_and_back(make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim) -> None:
    aware = await make_scheduler("PARTITION_AWARE")
    offers = await aware.offers()
    # Refuse everything else for a while so the second framework gets offers.
    await _running(aware, "pa", offers[0], refuse=3600)
    decline = {"offer_ids": [o["id"] for o in offers[1:]], "filters": {"refuse_seconds": 3600}}
    assert (await aware.call("DECLINE", decline))[0] == 202
    plain = await make_scheduler()
    plain_offers = await plain.offers()
    offer = next(o for o in plain_offers if o["agent_id"] == offers[0]["agent_id"])
    await _running(plain, "np", offer, refuse=3600)
    others = [o["id"] for o in plain_offers if o is not offer]
    assert (await plain.call("DECLINE", {**decline, "offer_ids": others}))[0] == 202
    agent_id = offers[0]["agent_id"]

    mesos_sim.lose_agent(agent_id["value"])
    unreachable = await aware.wait_state("pa", "TASK_UNREACHABLE")
    assert unreachable["reason"] == "REASON_AGENT_REMOVED"
    assert unreachable["source"] == "SOURCE_MASTER"
    assert "uuid" not in unreachable
    assert unreachable["unreachable_time"]["nanoseconds"] > 0
    assert (await plain.wait_state("np", "TASK_LOST"))["reason"] == "REASON_AGENT_REMOVED"
    for sched in (aware, plain):
        assert (await sched.wait_for("FAILURE"))["failure"] == {"agent_id": agent_id}
    view = state.master_state(mesos_sim.master)
    by_id = {f["id"]: f for f in view["frameworks"]}
    assert [t["id"] for t in by_id[aware.framework_id]["unreachable_tasks"]] == ["pa"]
    assert by_id[plain.framework_id]["tasks"] == []
    assert view["unreachable_slaves"] == 1.0
    # Reconciliation reports the partition too.
    mark = len(aware.events)
    await aware.call("RECONCILE", {"tasks": [{"task_id": {"value": "pa"}}]})
    answer = await aware.wait_for("UPDATE", after=mark)
    assert answer["update"]["status"]["state"] == "TASK_UNREACHABLE"

    mark = len(aware.events)
    mesos_sim.recover_agent(agent_id["value"])
    back = await aware.wait_for("UPDATE", after=mark)
    status = back["update"]["status"]
    assert (status["state"], status["reason"]) == ("TASK_RUNNING", "REASON_AGENT_REREGISTERED")
    assert status["message"] == "Unreachable agent re-reregistered"
    plain_back = await plain.wait_for(
        "UPDATE", where=lambda e: e["update"]["status"].get("reason") == "REASON_AGENT_REREGISTERED"
    )
    assert plain_back["update"]["status"]["state"] == "TASK_RUNNING"
    await aware.call("REVIVE")
    await until(
        lambda: any(
            o["agent_id"] == agent_id
            for e in aware.events[mark:]
            for o in e.get("offers", {}).get("offers", [])
        ),
        what="the agent to be offered again",
    )


async def test_master_restart_drops_streams_and_keeps_tasks(session: aiohttp.ClientSession) -> None:
    async with sim.MesosSim(agents=2, seed=8, allocation_interval=0.05) as s:
        sched = Scheduler(session, s.url)
        sched.auto_ack = False
        try:
            await sched.subscribe(framework_info("restart", failover_timeout=5.0))
            offer = (await sched.offers())[0]
            await sched.call("ACCEPT", launch(offer, command_task("t", offer)))
            starting = await sched.wait_state("t", "TASK_STARTING")
            old_master, old_stream = s.master.master_id, sched.stream_id
            s.restart_master(downtime=0.3)
            await until(lambda: sched.ended is not None, what="the stream to drop")
            async with session.post(
                f"{s.url}/api/v1/scheduler",
                json={"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info("x")}},
                headers=JSON,
            ) as r:
                assert (r.status, await r.text()) == (503, "Master has not finished recovery")
            async with session.get(f"{s.url}/master/state") as r:
                assert r.status == 503
            fid = sched.framework_id
            await until(lambda: not s.master.recovering, what="the master to recover")
            resp = await sched.subscribe(framework_info("restart", failover_timeout=5.0), framework_id=fid)
            assert resp.status == 200
            assert sched.framework_id == fid
            assert sched.stream_id != old_stream
            assert s.master.master_id != old_master  # a new leader
            # The unacknowledged STARTING is resent on the new stream; acking lets RUNNING through.
            resent = await sched.wait_for("UPDATE", after=len(sched.events) - 2)
            assert resent["update"]["status"]["uuid"] == starting["uuid"]
            await sched.ack(starting)
            await sched.wait_state("t", "TASK_RUNNING")
            assert list(s.master.frameworks[fid].tasks) == ["t"]
        finally:
            await sched.close()


async def test_second_subscriber_wins(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    old = await make_scheduler(failover_timeout=60.0)
    offer = (await old.offers())[0]
    await _running(old, "keep", offer)
    new = Scheduler(session, mesos_sim.url)
    try:
        await new.subscribe(framework_info("raw", failover_timeout=60.0), framework_id=old.framework_id)
        assert new.framework_id == old.framework_id
        error = await old.wait_for("ERROR")
        assert error == {"type": "ERROR", "error": {"message": "Framework failed over"}}
        await until(lambda: old.ended == "eof", what="the old stream to close")
        code, text = await old.call("REVIVE")  # the old stream id no longer works
        assert code == 400
        assert "didn't match the stream ID" in text
        assert await new.call("REVIVE") == (202, "")
        assert list(mesos_sim.master.frameworks[new.framework_id].tasks) == ["keep"]
    finally:
        await new.close()


async def test_failover_timeout_removes_framework(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    kept = await make_scheduler(failover_timeout=30.0)
    await _running(kept, "k", (await kept.offers())[0])
    short = await make_scheduler(failover_timeout=0.2)
    master = mesos_sim.master
    await kept.close()
    await short.close()
    await until(lambda: short.framework_id in master.removed_ids, what="the short framework to be removed")
    assert kept.framework_id in master.frameworks  # still within its failover timeout
    # Re-subscribing in time keeps the tasks.
    again = Scheduler(session, mesos_sim.url)
    try:
        await again.subscribe(framework_info("raw", failover_timeout=30.0), framework_id=kept.framework_id)
        assert again.of("SUBSCRIBED")
        assert list(master.frameworks[kept.framework_id].tasks) == ["k"]
    finally:
        await again.close()


async def test_admin_http_api(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    await _running(sched, "victim", offer)
    url = mesos_sim.url
    async with session.post(f"{url}/admin/tasks/victim/fail", json={"message": "oom"}) as r:
        assert r.status == 200
        assert (await r.json())["state"] == "TASK_FAILED"
    assert (await sched.wait_state("victim", "TASK_FAILED"))["message"] == "oom"
    fw = mesos_sim.master.frameworks[sched.framework_id]
    await until(lambda: "victim" not in fw.tasks, what="the acknowledged task to complete")
    async with session.post(f"{url}/admin/tasks/victim/fail") as r:
        assert r.status == 404
    async with session.post(f"{url}/admin/agents/nope/lose") as r:
        assert r.status == 404
    async with session.post(f"{url}/admin/agents/agent-2/lose") as r:
        assert (await r.json())["state"] == "unreachable"
    await sched.wait_for("FAILURE")
    async with session.post(f"{url}/admin/agents/agent-2/recover") as r:
        assert (await r.json())["state"] == "active"
    async with session.get(f"{url}/admin/agents") as r:
        assert [a["state"] for a in (await r.json())["agents"]] == ["active"] * 3
    async with session.post(f"{url}/admin/master/restart", json={"downtime": 0.1}) as r:
        assert r.status == 200
    await until(lambda: sched.ended is not None, what="the stream to drop")
