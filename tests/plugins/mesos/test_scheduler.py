"""The framework scheduler against ``bcs sim mesos``: placement, scale, restarts, lost agents."""

from __future__ import annotations

import pytest

from bcs.plugins.mesos import objects
from bcs.sim.mesos import sim
from tests import services
from tests.plugins.mesos.conftest import app_doc, running
from tests.services import eventually


async def test_unique_hostname_runs_one_taskgroup_per_agent_and_scales(
    make_scheduler, mesos: sim.MesosSim
) -> None:
    s = await make_scheduler()
    s.submit_app(objects.parse(app_doc(instances=3, unique=True)))
    await eventually(lambda: len(running(s, "web")) == 3, what="3 running")
    hosts = {tg.agent_id for tg in running(s, "web")}
    assert len(hosts) == 3
    s.scale("defaultGroup", "web", 6)
    await eventually(lambda: len(running(s, "web")) == 6, what="6 running")
    assert len({tg.agent_id for tg in running(s, "web")}) == 6
    # the master agrees: six live tasks, one per agent
    live = [t for t in mesos.tasks() if t.state == "TASK_RUNNING"]
    assert len(live) == 6
    s.scale("defaultGroup", "web", 2)
    await eventually(lambda: len(s.tgs_of("defaultGroup", "web")) == 2, what="scaled down to 2")
    assert sorted(tg.instance for tg in s.tgs_of("defaultGroup", "web")) == [0, 1]
    await eventually(lambda: len([t for t in mesos.tasks() if t.state == "TASK_RUNNING"]) == 2, what="master")
    assert s.app("defaultGroup", "web").status == "Running"


async def test_lost_agent_taskgroups_are_rescheduled_elsewhere(make_scheduler, mesos: sim.MesosSim) -> None:
    s = await make_scheduler()
    s.submit_app(objects.parse(app_doc(instances=3, unique=True)))
    await eventually(lambda: len(running(s, "web")) == 3, what="3 running")
    victim = running(s, "web")[0]
    mesos.lose_agent(victim.agent_id)
    await eventually(
        lambda: (
            len(running(s, "web")) == 3 and victim.agent_id not in {t.agent_id for t in running(s, "web")}
        ),
        what="rescheduled off the lost agent",
    )
    assert victim.id not in s.taskgroups
    assert s.pool.is_lost(victim.agent_id)


async def test_failed_taskgroup_restarts_under_policy(make_scheduler, mesos: sim.MesosSim) -> None:
    s = await make_scheduler()
    s.submit_app(objects.parse(app_doc(instances=1)))
    await eventually(lambda: len(running(s, "web")) == 1, what="running")
    first = running(s, "web")[0]
    mesos.fail_task(next(iter(first.tasks)))
    await eventually(lambda: running(s, "web") and running(s, "web")[0].id != first.id, what="restarted")
    assert s.apps[("defaultGroup", "web")].restarts == {0: 1}


@pytest.mark.parametrize("kv", services.KV_KINDS, indirect=True)
async def test_restart_mid_rollout_finishes_without_duplicates(
    make_scheduler, kv, mesos: sim.MesosSim
) -> None:
    s = await make_scheduler()
    dep = app_doc("api", instances=3, unique=True, kind="deployment")
    dep["spec"]["strategy"] = {"rollingupdate": {"maxUnavilable": 1, "maxSurge": 1}}
    rolling_mod = __import__("bcs.plugins.mesos.rolling", fromlist=["rolling"])
    rolling_mod.create(s, objects.parse(dep))
    await eventually(lambda: len(running(s, "api-v1")) == 3, what="v1 running")
    dep2 = {
        **dep,
        "spec": {
            **dep["spec"],
            "template": {
                "spec": {
                    "containers": [{**dep["spec"]["template"]["spec"]["containers"][0], "image": "nginx:2"}]
                }
            },
        },
    }
    rolling_mod.update(s, objects.parse(dep2))
    await eventually(lambda: len(running(s, "api-v2")) >= 1, what="first new taskgroup")
    await s.stop()
    s2 = await make_scheduler()
    await eventually(
        lambda: ("defaultGroup", "api-v1") not in s2.apps and len(running(s2, "api-v2")) == 3,
        timeout=20,
        what="rollout finished after restart",
    )
    live = [t for t in mesos.tasks() if t.state in ("TASK_RUNNING", "TASK_STAGING", "TASK_STARTING")]
    assert len(live) == 3
    images = {tg.tasks[t]["image"] for tg in running(s2, "api-v2") for t in tg.tasks}
    assert images == {"nginx:2"}
    assert s2.deployments[("defaultGroup", "api")].status == "Running"
    instances = sorted(tg.instance for tg in s2.tgs_of("defaultGroup", "api-v2"))
    assert instances == [0, 1, 2]
