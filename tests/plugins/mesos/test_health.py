"""Health checks end to end (bk-bcs §6.4): from the application JSON to the Mesos health_check, the
results in the taskgroup status and in storage's BcsPodStatus, and the unhealthy taskgroup killed
and rescheduled under its restart policy."""

from __future__ import annotations

from typing import Any

from bcs.plugins.mesos import objects
from bcs.sim.mesos import sim
from tests.plugins.mesos import through
from tests.plugins.mesos.conftest import CLUSTER, app_doc
from tests.plugins.mesos.through import MESOS, call, get
from tests.services import eventually

STORAGE = f"/bcsapi/v4/storage/mesos/dynamic/all_resources/clusters/{CLUSTER}"


def _checked(name: str, instances: int, **check: Any) -> dict[str, Any]:
    doc = app_doc(name, instances=instances)
    doc["spec"]["template"]["spec"]["containers"][0]["healthChecks"] = [
        {
            "type": "HTTP",
            "intervalSeconds": 0.1,
            "timeoutSeconds": 1,
            "consecutiveFailures": 2,
            "gracePeriodSeconds": 0,
            "http": {"portName": "http", "scheme": "http", "path": "/check"},
            **check,
        }
    ]
    return doc


async def _taskgroups(client: Any, app: str) -> list[dict[str, Any]]:
    return await get(client, f"{MESOS}/applications/{app}/taskgroups")


async def test_health_results_restart_and_storage(aiohttp_client, tmp_path, mesos: sim.MesosSim) -> None:
    client = await through.serve(aiohttp_client, tmp_path, mesos)
    await call(client, "POST", f"{MESOS}/applications", json=_checked("web", 2))

    async def healthy(n: int) -> list[dict[str, Any]] | None:
        tgs = await _taskgroups(client, "web")
        ok = len(tgs) == n and all(t["status"] == "Running" and t["healthy"] is True for t in tgs)
        return tgs if ok else None

    tgs = await eventually(lambda: healthy(2), what="two healthy taskgroups")
    status = tgs[0]["containerStatuses"][0]["healCheckStatus"]
    assert status == [{"type": "HTTP", "result": True, "message": "Task is healthy"}]
    # the executor got a Mesos health_check on the port picked for "http"
    task = next(t for t in mesos.tasks() if t.task_id == tgs[0]["containerStatuses"][0]["containerID"])
    host_port = tgs[0]["containerStatuses"][0]["containerPort"][0]["hostPort"]
    assert task.info["health_check"]["http"] == {"scheme": "http", "port": host_port, "path": "/check"}
    assert task.info["health_check"]["consecutive_failures"] == 2

    async def stored() -> bool:
        docs = await get(client, f"{STORAGE}/taskgroup")
        checks = [c["healCheckStatus"] for d in docs for c in d["data"]["containerStatuses"]]
        return len(docs) == 2 and all(c and c[0]["result"] is True for c in checks)

    await eventually(stored, what="BcsPodStatus with the health results in storage")

    victim = tgs[1]
    mesos.set_health(victim["containerStatuses"][0]["containerID"], False)

    async def replaced() -> list[dict[str, Any]] | None:
        now = await healthy(2)
        return now if now and victim["metadata"]["name"] not in {t["metadata"]["name"] for t in now} else None

    now = await eventually(replaced, timeout=20, what="the unhealthy taskgroup replaced")
    assert sorted(t["instance"] for t in now) == [0, 1]
    sched = through.scheduler_of(client)
    assert sched.apps[("defaultGroup", "web")].restarts == {victim["instance"]: 1}
    killed = next(t for t in mesos.history() if t.task_id == victim["containerStatuses"][0]["containerID"])
    assert killed.state == "TASK_KILLED"
    assert killed.statuses[-1]["healthy"] is False


async def test_unhealthy_without_consecutive_failures_is_only_reported(
    aiohttp_client, tmp_path, mesos: sim.MesosSim
) -> None:
    client = await through.serve(aiohttp_client, tmp_path, mesos)
    await call(client, "POST", f"{MESOS}/applications", json=_checked("web", 1, consecutiveFailures=0))

    async def one(healthy: bool) -> dict[str, Any] | None:
        tgs = await _taskgroups(client, "web")
        return tgs[0] if len(tgs) == 1 and tgs[0]["healthy"] is healthy else None

    first = await eventually(lambda: one(True), what="healthy")
    task_id = first["containerStatuses"][0]["containerID"]
    mesos.set_health(task_id, False)
    sick = await eventually(lambda: one(False), what="reported unhealthy")
    assert sick["metadata"]["name"] == first["metadata"]["name"]
    assert sick["status"] == "Running"
    assert sick["containerStatuses"][0]["healCheckStatus"][0]["result"] is False
    mesos.set_health(task_id, True)
    again = await eventually(lambda: one(True), what="healthy again")
    assert again["metadata"]["name"] == first["metadata"]["name"]


async def test_invalid_health_checks_are_400_naming_the_field(aiohttp_client, tmp_path, mesos) -> None:
    client = await through.serve(aiohttp_client, tmp_path, mesos)
    path = "spec.template.spec.containers[0].healthChecks[0]"
    for check, field in (
        ({"type": "PING"}, f"{path}.type"),
        ({"http": {"portName": "nope"}}, f"{path}.http.portName"),
        ({"http": {}}, f"{path}.http"),
        ({"intervalSeconds": 0}, f"{path}.intervalSeconds"),
        ({"type": "COMMAND", "command": {"value": ""}}, f"{path}.command.value"),
        ({"consecutiveFailures": -1}, f"{path}.consecutiveFailures"),
    ):
        body = await call(
            client, "POST", f"{MESOS}/applications", json=_checked("web", 1, **check), status=400
        )
        assert field in body["message"], body["message"]
    assert await get(client, f"{MESOS}/applications") == []
    assert mesos.tasks() == []


def test_remote_checks_are_kept_but_not_sent_to_the_executor() -> None:
    doc = _checked("web", 1, type="REMOTE_TCP", tcp={"port": 8080})
    del doc["spec"]["template"]["spec"]["containers"][0]["healthChecks"][0]["http"]
    spec = objects.parse(doc)
    (check,) = spec.containers[0].health_checks
    assert (check.type, check.port, check.local) == ("REMOTE_TCP", 8080, False)
