"""Offers: shape, attributes, refuse filters, REVIVE, SUPPRESS, RESCIND and resources coming back."""

from __future__ import annotations

import pathlib

import aiohttp

from bcs.sim.mesos import sim
from tests.sim.mesos.conftest import MakeScheduler, Scheduler, command_task, framework_info, launch, until

ATTRIBUTES = """
defaults:
  attributes: {zone: z1}
patterns:
  - match: "node-*"
    attributes: {rack: r1}
  - index: "2"
    attributes: {rack: r2, weight: 2.5}
agents:
  0: {hostname: node-a, ip: 10.9.0.1, attributes: {tags: [ssd, gpu]}, cpus: 8}
  1: {hostname: node-b}
"""


def _by_name(items: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {i["name"]: i for i in items}


async def test_offer_shape_and_attributes(tmp_path: pathlib.Path, session: aiohttp.ClientSession) -> None:
    path = tmp_path / "attrs.yaml"
    path.write_text(ATTRIBUTES)
    async with sim.MesosSim(agents=3, seed=2, attributes=path, allocation_interval=0.05) as s:
        sched = Scheduler(session, s.url)
        try:
            await sched.subscribe(framework_info("shape"))
            offers = await sched.offers()
            assert len(offers) == 3  # one per agent
            by_host = {o["hostname"]: o for o in offers}
            assert set(by_host) == {"node-a", "node-b", "agent-2"}
            a = by_host["node-a"]
            assert a["framework_id"]["value"] == sched.framework_id
            assert a["url"]["address"] == {"hostname": "node-a", "ip": "10.9.0.1", "port": 5051}
            assert "allocation_info" not in a  # not MULTI_ROLE
            res = _by_name(a["resources"])
            assert res["cpus"] == {"name": "cpus", "type": "SCALAR", "scalar": {"value": 8.0}, "role": "*"}
            assert res["mem"]["scalar"]["value"] == 8192.0
            assert res["disk"]["type"] == "SCALAR"
            assert res["ports"]["ranges"] == {"range": [{"begin": 31000, "end": 32000}]}
            attrs_a = _by_name(a["attributes"])
            assert attrs_a["zone"] == {"name": "zone", "type": "TEXT", "text": {"value": "z1"}}
            assert attrs_a["rack"]["text"]["value"] == "r1"
            assert attrs_a["tags"] == {"name": "tags", "type": "SET", "set": {"item": ["ssd", "gpu"]}}
            attrs_2 = _by_name(by_host["agent-2"]["attributes"])
            assert attrs_2["weight"] == {"name": "weight", "type": "SCALAR", "scalar": {"value": 2.5}}
            assert attrs_2["rack"]["text"]["value"] == "r2"
            async with session.get(f"{s.url}/master/state") as r:
                state = await r.json()
            slave = next(x for x in state["slaves"] if x["hostname"] == "node-a")
            assert slave["attributes"] == {"zone": "z1", "rack": "r1", "tags": "{ssd,gpu}"}
            assert slave["offered_resources"]["cpus"] == 8.0
        finally:
            await sched.close()


async def test_multi_role_offers_carry_allocation_info(make_scheduler: MakeScheduler) -> None:
    sched = await make_scheduler("MULTI_ROLE", roles=["batch"])
    offer = (await sched.offers())[0]
    assert offer["allocation_info"] == {"role": "batch"}
    assert all(r["allocation_info"] == {"role": "batch"} for r in offer["resources"])


async def test_decline_refuse_seconds_then_revive(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    sched = await make_scheduler()
    offers = await sched.offers()
    refused, *others = offers
    assert await sched.call(
        "DECLINE", {"offer_ids": [refused["id"]], "filters": {"refuse_seconds": 3600}}
    ) == (202, "")
    # The others are declined with no filter, so they come straight back, round after round,
    # while the refused agent stays out.
    seen_rounds = 0
    for _ in range(3):
        mark = len(sched.events)
        ids = [o["id"] for o in others]
        assert (await sched.call("DECLINE", {"offer_ids": ids, "filters": {"refuse_seconds": 0}}))[0] == 202
        others = await sched.offers(after=mark)
        assert refused["agent_id"] not in [o["agent_id"] for o in others]
        seen_rounds += 1
    assert seen_rounds == 3
    mark = len(sched.events)
    assert await sched.call("REVIVE") == (202, "")
    back = await sched.offers(after=mark)
    assert [o["agent_id"] for o in back] == [refused["agent_id"]]


async def test_refuse_filter_expires_on_its_own(make_scheduler: MakeScheduler) -> None:
    sched = await make_scheduler()
    offers = await sched.offers()
    mark = len(sched.events)
    ids = [o["id"] for o in offers]
    assert (await sched.call("DECLINE", {"offer_ids": ids, "filters": {"refuse_seconds": 0.3}}))[0] == 202
    again = await sched.offers(after=mark)  # no REVIVE: the filters simply ran out
    assert {o["agent_id"]["value"] for o in again} <= {o["agent_id"]["value"] for o in offers}
    assert not {o["id"]["value"] for o in again} & {o["id"]["value"] for o in offers}


async def test_suppress_stops_offers_until_revive(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    sched = await make_scheduler()
    offers = await sched.offers()
    assert (await sched.call("SUPPRESS"))[0] == 202
    ids = [o["id"] for o in offers]
    assert (await sched.call("DECLINE", {"offer_ids": ids, "filters": {"refuse_seconds": 0}}))[0] == 202
    mark = len(sched.events)
    passes = mesos_sim.master.allocation_passes
    await until(lambda: mesos_sim.master.allocation_passes >= passes + 5, what="allocation passes")
    assert [e for e in sched.events[mark:] if e["type"] == "OFFERS"] == []
    assert (await sched.call("REVIVE"))[0] == 202
    assert len(await sched.offers(after=mark)) == 3


async def test_rescind_and_failure_when_agent_lost(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    sched = await make_scheduler()
    offers = await sched.offers()
    victim = offers[1]
    mesos_sim.lose_agent(victim["agent_id"]["value"])
    rescind = await sched.wait_for("RESCIND")
    assert rescind == {"type": "RESCIND", "rescind": {"offer_id": victim["id"]}}
    failure = await sched.wait_for("FAILURE")
    assert failure == {"type": "FAILURE", "failure": {"agent_id": victim["agent_id"]}}
    # Accepting the rescinded offer now gives TASK_LOST (not PARTITION_AWARE).
    assert (await sched.call("ACCEPT", launch(victim, command_task("late", victim))))[0] == 202
    lost = await sched.wait_state("late", "TASK_LOST")
    assert lost["reason"] == "REASON_INVALID_OFFERS"
    assert lost["source"] == "SOURCE_MASTER"
    assert "uuid" not in lost
    assert (
        lost["message"]
        == f"Task launched with invalid offers: Offer {victim['id']['value']} is no longer valid"
    )


async def test_resources_return_to_offers_when_tasks_end(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    sched = await make_scheduler()
    offer = (await sched.offers())[0]
    agent_id = offer["agent_id"]
    whole = command_task("big", offer, cpus=4.0, mem=8192.0)
    assert (await sched.call("ACCEPT", launch(offer, whole)))[0] == 202
    await sched.wait_state("big", "TASK_RUNNING")
    agent = mesos_sim.master.agents[agent_id["value"]]
    assert agent.used.scalar("cpus") == 4.0
    mark = len(sched.events)
    assert (await sched.call("KILL", {"task_id": {"value": "big"}}))[0] == 202
    await sched.wait_state("big", "TASK_KILLED")

    def full_offer() -> bool:
        for e in sched.events[mark:]:
            for o in e.get("offers", {}).get("offers", []):
                cpus = next(r for r in o["resources"] if r["name"] == "cpus")
                if o["agent_id"] == agent_id and cpus["scalar"]["value"] == 4.0:
                    return True
        return False

    await until(full_offer, what="the freed agent to be offered whole again")
    assert agent.used.empty()


async def test_two_frameworks_never_share_an_offer(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    first = await make_scheduler()
    assert len(await first.offers()) == 3
    second = await make_scheduler()
    passes = mesos_sim.master.allocation_passes
    await until(lambda: mesos_sim.master.allocation_passes >= passes + 3, what="allocation passes")
    assert second.of("OFFERS") == []  # everything is still offered to the first
    ids = [o["id"] for o in first.of("OFFERS")[0]["offers"]["offers"]]
    assert (await first.call("DECLINE", {"offer_ids": ids, "filters": {"refuse_seconds": 60}}))[0] == 202
    assert len(await second.offers()) == 3
