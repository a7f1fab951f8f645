"""In-place resource updates through the driver (``PUT ...?args=resource``, bk-bcs §6.4): running
taskgroups keep running, the agent's delta is held back from its offers until they end."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from bcs import keys
from bcs.sim.mesos import sim
from tests.plugins.mesos import through
from tests.plugins.mesos.conftest import app_doc
from tests.plugins.mesos.through import MESOS, call, get
from tests.services import eventually


@pytest.fixture
async def one_agent() -> AsyncIterator[sim.MesosSim]:
    async with sim.MesosSim(agents=1, seed=5, allocation_interval=0.05, cpus=2.0, mem=2048.0) as s:
        yield s


def _cpu(doc: dict[str, Any], cpu: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = cpu
    return doc


async def _running(client: Any, app: str) -> list[dict[str, Any]] | None:
    tgs = await get(client, f"{MESOS}/applications/{app}/taskgroups")
    return tgs if tgs and all(t["status"] == "Running" for t in tgs) else None


async def test_resources_change_in_place_and_hold_back_offers(aiohttp_client, tmp_path, one_agent) -> None:
    client = await through.serve(aiohttp_client, tmp_path, one_agent)
    sched = through.scheduler_of(client)
    a = app_doc("a", instances=1)  # 0.5 cpu (+0.1 for the executor) on a 2-cpu agent
    await call(client, "POST", f"{MESOS}/applications", json=a)
    (before,) = await eventually(lambda: _running(client, "a"), what="a running")
    agent = one_agent.agents[0].id

    body = await call(client, "PUT", f"{MESOS}/applications?args=resource", json=_cpu(a, "1.5"))
    assert body["data"]["status"] == "Running"
    (after,) = await get(client, f"{MESOS}/applications/a/taskgroups")
    assert after["metadata"]["name"] == before["metadata"]["name"]  # not relaunched
    assert [t.state for t in one_agent.tasks()] == ["TASK_RUNNING"]
    definition = await get(client, "/bcsapi/v4/scheduler/mesos/definition/application/defaultGroup/a")
    assert definition["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "1.5"
    assert sched.pool.delta(agent) == (1.0, 0.0, 0.0)
    await sched.store.flush()
    info = await client.app[keys.KV].get(f"{sched.store.root}agentschedinfo/{agent}")
    assert orjson.loads(info.value)["deltaCPU"] == 1.0

    # the master still sees 1.4 cpus free; 1.0 of them are a's now, so b (0.9) must wait
    await call(client, "POST", f"{MESOS}/applications", json=_cpu(app_doc("b", instances=1), "0.8"))

    def offered() -> bool:
        offers = [o for o in sched.pool.all() if o.agent_id == agent]
        return bool(offers) and abs(offers[0].cpus - 0.4) < 1e-6

    await eventually(offered, what="the agent offered again, less the delta")
    until = sched.passes + 5
    await eventually(lambda: sched.passes >= until, what="five more passes")
    assert await get(client, f"{MESOS}/applications/b/taskgroups") == []
    assert (await get(client, f"{MESOS}/applications/b"))["status"] == "Abnormal"

    await call(client, "PUT", f"{MESOS}/applications/a/scale/0")
    await eventually(lambda: _running(client, "b"), timeout=20, what="b placed once a's delta is gone")
    assert sched.pool.delta(agent) == (0.0, 0.0, 0.0)
    await sched.store.flush()
    assert await client.app[keys.KV].get(f"{sched.store.root}agentschedinfo/{agent}") is None


async def test_only_resources_may_change(aiohttp_client, tmp_path, one_agent) -> None:
    client = await through.serve(aiohttp_client, tmp_path, one_agent)
    a = app_doc("a", instances=1)
    await call(client, "POST", f"{MESOS}/applications", json=a)
    await eventually(lambda: _running(client, "a"), what="a running")
    image = _cpu(a, "0.6")
    image["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    body = await call(client, "PUT", f"{MESOS}/applications?args=resource", json=image, status=400)
    assert "spec.template.spec.containers[0].image" in body["message"]
    more = _cpu(a, "0.6")
    more["spec"]["instance"] = 2
    body = await call(client, "PUT", f"{MESOS}/applications?args=resource", json=more, status=400)
    assert "spec.instance" in body["message"]
    body = await call(client, "PUT", f"{MESOS}/applications?args=everything", json=a, status=400)
    assert "args" in body["message"]
    definition = await get(client, "/bcsapi/v4/scheduler/mesos/definition/application/defaultGroup/a")
    assert definition["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "0.5"

    dep = app_doc("d", instances=1, kind="deployment")
    await call(client, "POST", f"{MESOS}/deployments", json=dep)
    (before,) = await eventually(lambda: _running(client, "d-v1"), what="d running")
    body = await call(client, "PUT", f"{MESOS}/deployments?args=resource", json=_cpu(dep, "0.7"))
    assert body["data"]["isInRolling"] is False
    (after,) = await get(client, f"{MESOS}/applications/d-v1/taskgroups")
    assert after["metadata"]["name"] == before["metadata"]["name"]
    sched = through.scheduler_of(client)
    assert sched.app("defaultGroup", "d-v1").spec.cpus == 0.7
    assert sched.pool.delta(one_agent.agents[0].id)[0] == pytest.approx(0.2)
    # its application is the deployment's to change
    owned = _cpu(app_doc("d-v1", instances=1), "0.9")
    await call(client, "PUT", f"{MESOS}/applications?args=resource", json=owned, status=409)
