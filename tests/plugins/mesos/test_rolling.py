"""Rolling-update controls end to end through the driver routes (bk-bcs §6.4): rollingManually with
resume, pause/resume/cancel, and the two rolling orders, judged by taskgroups and by the master's own
record of which tasks held resources when."""

from __future__ import annotations

import copy
from typing import Any

from bcs.sim.mesos import sim
from tests.plugins.mesos import through
from tests.plugins.mesos.conftest import app_doc
from tests.plugins.mesos.through import MESOS, call, get
from tests.services import eventually


def _deployment(instances: int, **rolling: Any) -> dict[str, Any]:
    dep = app_doc("api", instances=instances, kind="deployment")
    dep["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingupdate": {"maxUnavilable": 1, "maxSurge": 1, **rolling},
    }
    return dep


def _with_image(dep: dict[str, Any], image: str) -> dict[str, Any]:
    new = copy.deepcopy(dep)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return new


def _peak(mesos: sim.MesosSim) -> int:
    """Most tasks holding resources at once, over the whole run (a release at the same instant as a
    launch counts first)."""
    events = []
    for t in mesos.history():
        events.append((t.launched_at, 1))
        if t.released_at is not None:
            events.append((t.released_at, -1))
    peak = held = 0
    for _, delta in sorted(events):
        held += delta
        peak = max(peak, held)
    return peak


def _image(task: Any) -> str:
    return task.info["container"]["mesos"]["image"]["docker"]["name"]


async def _state(client: Any) -> tuple[str, dict[str, int]]:
    """The deployment's status and, per application, how many of its taskgroups run."""
    dep = await get(client, f"{MESOS}/deployments/api")
    counts = {}
    for app in ("api-v1", "api-v2"):
        async with client.get(f"{MESOS}/applications/{app}/taskgroups", headers=through.HEADERS) as r:
            if r.status == 200:
                statuses = [t["status"] for t in (await r.json())["data"]]
                # -1: some taskgroup is not running (yet, or any more)
                counts[app] = len(statuses) if set(statuses) <= {"Running"} else -1
    return dep["status"], counts


async def _holds(client: Any, expected: tuple[str, dict[str, int]], passes: int = 5) -> None:
    """``expected`` is reached and stays so while the scheduler makes ``passes`` more passes."""
    await eventually(lambda: _is(client, expected), timeout=20, what=f"{expected}")
    sched = through.scheduler_of(client)
    until = sched.passes + passes
    await eventually(lambda: sched.passes >= until, what=f"{passes} more scheduler passes")
    assert await _state(client) == expected


async def _is(client: Any, expected: tuple[str, dict[str, int]]) -> bool:
    return await _state(client) == expected


async def test_manual_delete_first_pauses_after_every_step(aiohttp_client, tmp_path, mesos) -> None:
    client = await through.serve(aiohttp_client, tmp_path, mesos)
    # maxSurge 2 would overshoot: delete first caps every step at the defined instances
    dep = _deployment(3, rollingOrder="DeleteFirst", rollingManually=True, maxSurge=2)
    await call(client, "POST", f"{MESOS}/deployments", json=dep)
    await eventually(lambda: _is(client, ("Running", {"api-v1": 3})), what="v1 running")
    body = await call(client, "PUT", f"{MESOS}/deployments", json=_with_image(dep, "nginx:2"))
    assert body["data"]["isInRolling"] is True

    # each step kills one old taskgroup, starts one new one, then waits for a resume
    await _holds(client, ("RollingUpdatePaused", {"api-v1": 2, "api-v2": 1}))
    await call(client, "PUT", f"{MESOS}/deployments/api/resumeupdate")
    await _holds(client, ("RollingUpdatePaused", {"api-v1": 1, "api-v2": 2}))
    await call(client, "PUT", f"{MESOS}/deployments/api/resumeupdate")
    await eventually(lambda: _is(client, ("Running", {"api-v2": 3})), timeout=20, what="rollout finished")
    assert (await get(client, f"{MESOS}/deployments/api"))["application"]["name"] == "api-v2"

    history = mesos.history()
    old = sorted(t.released_at or 0.0 for t in history if _image(t) == "nginx:1")
    new = sorted(t.launched_at for t in history if _image(t) == "nginx:2")
    assert len(old) == len(new) == 3
    assert all(killed < launched for killed, launched in zip(old, new, strict=True))  # delete first
    assert _peak(mesos) == 3  # never more than the defined instances


async def test_pause_resume_and_cancel_roll_back(aiohttp_client, tmp_path, mesos) -> None:
    client = await through.serve(aiohttp_client, tmp_path, mesos)
    dep = _deployment(4)  # CreateFirst, not manual
    await call(client, "POST", f"{MESOS}/deployments", json=dep)
    await eventually(lambda: _is(client, ("Running", {"api-v1": 4})), what="v1 running")
    await call(client, "PUT", f"{MESOS}/deployments", json=_with_image(dep, "nginx:2"))
    paused = await call(client, "PUT", f"{MESOS}/deployments/api/pauseupdate")
    assert paused["data"]["status"] == "RollingUpdatePaused"

    # held where the pause found it: at most the first new taskgroup, no old one gone yet
    async def settled() -> tuple[str, dict[str, int]] | None:
        state = await _state(client)
        return state if -1 not in state[1].values() else None

    held = await eventually(settled, what="the paused rollout settled")
    assert held[1]["api-v1"] == 4
    assert held[1].get("api-v2", 0) <= 1
    await _holds(client, held)

    await call(client, "PUT", f"{MESOS}/deployments/api/resumeupdate")

    async def moved_on() -> bool:
        _, counts = await _state(client)
        return counts.get("api-v2", 0) >= 2

    await eventually(moved_on, timeout=20, what="the rollout going on after resume")
    await call(client, "PUT", f"{MESOS}/deployments/api/pauseupdate")
    cancelled = await call(client, "PUT", f"{MESOS}/deployments/api/cancelupdate")
    assert cancelled["data"]["isInRolling"] is False
    await eventually(lambda: _is(client, ("Running", {"api-v1": 4})), timeout=20, what="rolled back to v1")
    d = await get(client, f"{MESOS}/deployments/api")
    assert (d["application"]["name"], d["application_ext"]) == ("api-v1", None)
    await call(client, "GET", f"{MESOS}/applications/api-v2", status=404)

    def only_v1() -> bool:
        live = [t for t in mesos.tasks() if t.released_at is None]
        names = {_image(t) for t in live}
        return len(live) == 4 and names == {"nginx:1"}

    await eventually(only_v1, what="the master runs four v1 tasks only")
    assert _peak(mesos) <= 5  # CreateFirst: at most maxSurge above the defined instances


async def test_controls_need_a_rolling_deployment(aiohttp_client, tmp_path, mesos) -> None:
    client = await through.serve(aiohttp_client, tmp_path, mesos)
    await call(client, "PUT", f"{MESOS}/deployments/nope/pauseupdate", status=404)
    await call(client, "POST", f"{MESOS}/deployments", json=_deployment(1))
    for op in ("pauseupdate", "resumeupdate", "cancelupdate"):
        body = await call(client, "PUT", f"{MESOS}/deployments/api/{op}", status=409)
        assert "is not rolling" in body["message"]
    bad = _deployment(1, rollingOrder="Sideways")
    body = await call(client, "PUT", f"{MESOS}/deployments", json=bad, status=400)
    assert "spec.strategy.rollingupdate.rollingOrder" in body["message"]
