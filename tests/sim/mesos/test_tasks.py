"""Tasks: LAUNCH and LAUNCH_GROUP, validation failures, reliable updates, KILL, RECONCILE, MESSAGE."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp

from bcs.sim.mesos import sim
from tests.sim.mesos.conftest import (
    MakeScheduler,
    Scheduler,
    b64,
    command_task,
    framework_info,
    launch,
    until,
)


def _scalars(cpus: float, mem: float, disk: float | None = None) -> list[dict[str, Any]]:
    out = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]
    if disk is not None:
        out.append({"name": "disk", "type": "SCALAR", "scalar": {"value": disk}})
    return out


def _group(offer: dict[str, Any], framework_id: str | None, *task_ids: str) -> dict[str, Any]:
    executor: dict[str, Any] = {
        "type": "DEFAULT",
        "executor_id": {"value": "exec-1"},
        "resources": _scalars(0.1, 32.0, 10.0),
    }
    if framework_id is not None:
        executor["framework_id"] = {"value": framework_id}
    tasks = [
        {"name": t, "task_id": {"value": t}, "agent_id": offer["agent_id"], "resources": _scalars(0.5, 64.0)}
        for t in task_ids
    ]
    group = {"executor": executor, "task_group": {"tasks": tasks}}
    return {
        "offer_ids": [offer["id"]],
        "operations": [{"type": "LAUNCH_GROUP", "launch_group": group}],
        "filters": {"refuse_seconds": 0},
    }


async def test_launch_command_task_reaches_running(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    assert await sched.call("ACCEPT", launch(offer, command_task("t1", offer))) == (202, "")
    running = await sched.wait_state("t1", "TASK_RUNNING")
    assert sched.states("t1") == ["TASK_STARTING", "TASK_RUNNING"]
    for status in sched.updates("t1"):
        assert status["source"] == "SOURCE_EXECUTOR"
        assert status["agent_id"] == offer["agent_id"]
        assert status["executor_id"] == {"value": "t1"}  # command executor: executor id = task id
        assert len(base64.b64decode(status["uuid"])) == 16
        assert isinstance(status["timestamp"], float)
    agent = mesos_sim.master.agents[offer["agent_id"]["value"]]
    ips = running["container_status"]["network_infos"][0]["ip_addresses"]
    assert ips == [{"protocol": "IPv4", "ip_address": agent.ip}]
    await until(lambda: len(sched.acked) == 2, what="both updates acknowledged")
    async with session.get(f"{mesos_sim.url}/master/state") as r:
        state = await r.json()
    task = state["frameworks"][0]["tasks"][0]
    assert (task["id"], task["state"], task["executor_id"]) == ("t1", "TASK_RUNNING", "")
    assert task["resources"]["cpus"] == 0.5
    assert [s["state"] for s in task["statuses"]] == ["TASK_STARTING", "TASK_RUNNING"]


async def test_unacked_update_is_resent_and_blocks_the_next(session: aiohttp.ClientSession) -> None:
    async with sim.MesosSim(agents=1, seed=4, allocation_interval=0.05, update_retry_interval=0.1) as s:
        sched = Scheduler(session, s.url)
        sched.auto_ack = False
        try:
            await sched.subscribe(framework_info("noack"))
            offer = (await sched.offers())[0]
            await sched.call("ACCEPT", launch(offer, command_task("t1", offer)))
            await until(lambda: len(sched.updates("t1")) >= 3, what="STARTING resent")
            first = sched.updates("t1")
            assert {u["state"] for u in first} == {"TASK_STARTING"}  # RUNNING waits for the ack
            assert len({u["uuid"] for u in first}) == 1  # the same update, resent
            # A stale or unknown uuid is accepted (202) and ignored.
            stale = {**first[0], "uuid": b64(b"0123456789abcdef")}
            await sched.ack(stale)
            await sched.ack(first[0])
            running = await sched.wait_state("t1", "TASK_RUNNING")
            assert running["uuid"] != first[0]["uuid"]
        finally:
            await sched.close()


async def test_over_offer_is_task_error_and_later_tasks_still_launch(make_scheduler: MakeScheduler) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    body = launch(
        offer,
        command_task("fits", offer, cpus=3.0),
        command_task("too-big", offer, cpus=2.0),  # only 1 cpu is left after "fits"
        command_task("fits-too", offer, cpus=1.0),
        command_task("fits", offer, cpus=0.1),  # duplicate id
    )
    assert (await sched.call("ACCEPT", body))[0] == 202
    error = await sched.wait_state("too-big", "TASK_ERROR")
    assert error["reason"] == "REASON_TASK_INVALID"
    assert error["source"] == "SOURCE_MASTER"
    assert "uuid" not in error
    assert "is more than available" in error["message"]
    await sched.wait_state("fits", "TASK_RUNNING")
    await sched.wait_state("fits-too", "TASK_RUNNING")
    dup = next(s for s in sched.updates("fits") if s["state"] == "TASK_ERROR")
    assert dup["message"] == "Task has duplicate ID: fits"


async def test_invalid_offer_is_dropped_for_partition_aware(make_scheduler: MakeScheduler) -> None:
    sched = await make_scheduler("PARTITION_AWARE")
    offer = (await sched.offers())[0]
    bogus = {**offer, "id": {"value": "no-such-offer"}}
    assert (await sched.call("ACCEPT", launch(bogus, command_task("t1", offer))))[0] == 202
    dropped = await sched.wait_state("t1", "TASK_DROPPED")
    assert dropped["reason"] == "REASON_INVALID_OFFERS"
    assert dropped["message"] == "Task launched with invalid offers: Offer no-such-offer is no longer valid"


async def test_launch_group_runs_fails_together_and_executor_exits(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    sched = await make_scheduler()
    offers = await sched.offers()
    # Without executor.framework_id the whole group is invalid.
    assert (await sched.call("ACCEPT", _group(offers[0], None, "bad-a", "bad-b")))[0] == 202
    for t in ("bad-a", "bad-b"):
        err = await sched.wait_state(t, "TASK_ERROR")
        assert err["reason"] == "REASON_TASK_GROUP_INVALID"
        assert err["message"] == "'ExecutorInfo.framework_id' must be set"
    assert (await sched.call("ACCEPT", _group(offers[1], sched.framework_id, "g-a", "g-b")))[0] == 202
    for t in ("g-a", "g-b"):
        running = await sched.wait_state(t, "TASK_RUNNING")
        assert running["executor_id"] == {"value": "exec-1"}
        assert "parent" in running["container_status"]["container_id"]
    agent = mesos_sim.master.agents[offers[1]["agent_id"]["value"]]
    assert agent.used.scalar("cpus") == 1.1  # two tasks plus the executor
    mesos_sim.fail_task("g-a", message="boom")
    failed = await sched.wait_state("g-a", "TASK_FAILED")
    assert failed["message"] == "boom"
    await sched.wait_state("g-b", "TASK_KILLED")  # the group shares fate
    failure = await sched.wait_for("FAILURE")
    assert failure["failure"] == {
        "agent_id": offers[1]["agent_id"],
        "executor_id": {"value": "exec-1"},
        "status": 0,
    }
    assert agent.used.empty()


async def test_kill_with_and_without_killing_state(make_scheduler: MakeScheduler) -> None:
    for caps, expected in (((), ["TASK_KILLED"]), (("TASK_KILLING_STATE",), ["TASK_KILLING", "TASK_KILLED"])):
        sched = await make_scheduler(*caps)
        offer = (await sched.offers())[0]
        await sched.call("ACCEPT", launch(offer, command_task("k", offer)))
        await sched.wait_state("k", "TASK_RUNNING")
        assert (await sched.call("KILL", {"task_id": {"value": "k"}}))[0] == 202
        killed = await sched.wait_state("k", "TASK_KILLED")
        assert sched.states("k")[2:] == expected
        assert killed["message"] == "Command terminated with signal Terminated"
        await sched.call("TEARDOWN")


async def test_kill_during_launch(session: aiohttp.ClientSession) -> None:
    async with sim.MesosSim(agents=1, seed=9, allocation_interval=0.05, launch_delay=30.0) as s:
        sched = Scheduler(session, s.url)
        try:
            await sched.subscribe(framework_info("slow"))
            offer = (await sched.offers())[0]
            await sched.call("ACCEPT", launch(offer, command_task("slow", offer)))
            await sched.call("KILL", {"task_id": {"value": "slow"}, "agent_id": offer["agent_id"]})
            killed = await sched.wait_state("slow", "TASK_KILLED")
            assert killed["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH"
            assert killed["source"] == "SOURCE_AGENT"
            assert sched.states("slow") == ["TASK_KILLED"]
        finally:
            await sched.close()


async def test_kill_unknown_task_answers_like_reconciliation(make_scheduler: MakeScheduler) -> None:
    plain = await make_scheduler()
    await plain.call("KILL", {"task_id": {"value": "ghost"}})
    lost = await plain.wait_state("ghost", "TASK_LOST")
    assert lost["reason"] == "REASON_RECONCILIATION"
    aware = await make_scheduler("PARTITION_AWARE")
    await aware.call("KILL", {"task_id": {"value": "ghost"}})
    assert (await aware.wait_state("ghost", "TASK_UNKNOWN"))["message"] == "Reconciliation: Task is unknown"


async def test_exit_commands_finish_or_fail(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    body = launch(offer, command_task("ok", offer, cmd="exit 0"), command_task("bad", offer, cmd="exit 3"))
    await sched.call("ACCEPT", body)
    finished = await sched.wait_state("ok", "TASK_FINISHED")
    failed = await sched.wait_state("bad", "TASK_FAILED")
    assert finished["message"] == "Command exited with status 0"
    assert failed["message"] == "Command exited with status 3"
    # Once the terminal updates are acknowledged the tasks move to completed_tasks.
    fw = mesos_sim.master.frameworks[sched.framework_id]
    await until(lambda: not fw.tasks, what="tasks to complete")
    async with session.get(f"{mesos_sim.url}/master/state") as r:
        state = await r.json()
    done = {t["id"]: t["state"] for t in state["frameworks"][0]["completed_tasks"]}
    assert done == {"ok": "TASK_FINISHED", "bad": "TASK_FAILED"}


async def test_reconcile_explicit_and_implicit(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    sched = await make_scheduler("PARTITION_AWARE")
    offers = await sched.offers()
    await sched.call("ACCEPT", launch(offers[0], command_task("a", offers[0])))
    await sched.call("ACCEPT", launch(offers[1], command_task("b", offers[1])))
    await sched.wait_state("a", "TASK_RUNNING")
    await sched.wait_state("b", "TASK_RUNNING")
    await until(lambda: len(sched.acked) == 4, what="acks")
    mark = len(sched.events)
    assert (await sched.call("RECONCILE", {"tasks": []}))[0] == 202
    answers = [
        await sched.wait_for(
            "UPDATE", after=mark, where=lambda e, t=t: e["update"]["status"]["task_id"]["value"] == t
        )
        for t in ("a", "b")
    ]
    for event in answers:
        status = event["update"]["status"]
        assert status["state"] == "TASK_RUNNING"
        assert status["reason"] == "REASON_RECONCILIATION"
        assert status["message"] == "Reconciliation: Latest task state"
        assert "uuid" not in status
    mark = len(sched.events)
    body = {
        "tasks": [
            {"task_id": {"value": "a"}},
            {"task_id": {"value": "gone"}, "agent_id": offers[0]["agent_id"]},
            {"task_id": {"value": "nowhere"}},
        ]
    }
    assert (await sched.call("RECONCILE", body))[0] == 202
    await until(lambda: len(sched.events) >= mark + 3, what="three answers")
    got = {
        e["update"]["status"]["task_id"]["value"]: e["update"]["status"]["state"] for e in sched.events[mark:]
    }
    assert got == {"a": "TASK_RUNNING", "gone": "TASK_GONE", "nowhere": "TASK_UNKNOWN"}


async def test_message_is_echoed_by_the_executor(make_scheduler: MakeScheduler) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    await sched.call("ACCEPT", launch(offer, command_task("m", offer)))
    await sched.wait_state("m", "TASK_RUNNING")
    data = b64(b"hello executor")
    body = {"agent_id": offer["agent_id"], "executor_id": {"value": "m"}, "data": data}
    assert await sched.call("MESSAGE", body) == (202, "")
    echo = await sched.wait_for("MESSAGE")
    assert echo["message"] == body
    # A message for an executor that does not exist is dropped (still 202).
    assert (await sched.call("MESSAGE", {**body, "executor_id": {"value": "nope"}}))[0] == 202


async def test_teardown_kills_tasks_and_frees_resources(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    await sched.call("ACCEPT", launch(offer, command_task("t", offer)))
    await sched.wait_state("t", "TASK_RUNNING")
    assert await sched.call("TEARDOWN") == (202, "")
    await until(lambda: sched.ended == "eof", what="the stream to close")
    assert all(a.used.empty() for a in mesos_sim.agents)
    async with session.get(f"{mesos_sim.url}/master/state") as r:
        state = await r.json()
    assert state["frameworks"] == []
    done = state["completed_frameworks"][0]
    assert done["id"] == sched.framework_id
    assert [(t["id"], t["state"]) for t in done["completed_tasks"]] == [("t", "TASK_KILLED")]
    # The id is dead for good.
    again = Scheduler(session, mesos_sim.url)
    try:
        await again.subscribe(framework_info("again"), framework_id=sched.framework_id)
        assert again.events[0] == {"type": "ERROR", "error": {"message": "Framework has been removed"}}
    finally:
        await again.close()


async def test_shutdown_executor_and_update_framework(make_scheduler: MakeScheduler) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    await sched.call("ACCEPT", _group(offer, sched.framework_id, "s-a", "s-b"))
    await sched.wait_state("s-b", "TASK_RUNNING")
    body = {"executor_id": {"value": "exec-1"}, "agent_id": offer["agent_id"]}
    assert await sched.call("SHUTDOWN", body) == (202, "")
    await sched.wait_state("s-a", "TASK_KILLED")
    await sched.wait_state("s-b", "TASK_KILLED")
    info = {**framework_info("raw"), "id": {"value": sched.framework_id}}
    ok = await sched.call("UPDATE_FRAMEWORK", {"framework_info": info, "suppressed_roles": ["*"]})
    assert ok == (200, "")
    other = {**info, "id": {"value": "someone-else"}}
    code, text = await sched.call("UPDATE_FRAMEWORK", {"framework_info": other})
    assert code == 400
    assert "differs" in text
