"""GameStatefulSet in-place, hot-patch and canary updates on the simulator, asserting pod-level outcomes."""

from __future__ import annotations

from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamedeployment import model as gd_model
from bcs.plugins.k8s.operators.gamestatefulset import model
from bcs.plugins.k8s.operators.hook import model as hook_model
from tests.plugins.k8s.conftest import WebTarget, until
from tests.plugins.k8s.operators.game import helpers as h
from tests.plugins.k8s.operators.game.conftest import PodLog, Running


async def _all(kube: client.KubeClient, app: str, n: int, image: str | None = None) -> list:
    async def check() -> list | None:
        pods = await h.pods_of(kube, app)
        return pods if h.all_ready(pods, n, image) else None

    return await until(check, timeout=30, what=f"{n} ready pods of {app} at {image}")


async def _status(kube: client.KubeClient, name: str) -> dict[str, Any]:
    return (await h.gsts(kube, name)).get("status") or {}


async def test_inplace_update_keeps_pods_and_walks_down_from_the_top(
    gkube: client.KubeClient, gsts_operators: Running, pod_log: PodLog
) -> None:
    strategy = {"type": "InplaceUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    body = h.game_statefulset("ip", 3, strategy=strategy, images=("game:v1", "sidecar:v1"))
    await gkube.create(model.GAMESTATEFULSETS, h.NS, body)
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in await _all(gkube, "ip", 3)}
    await h.set_image_of(gkube, model.GAMESTATEFULSETS, "ip", "game:v2")

    async def restarted() -> list | None:
        pods = await h.pods_of(gkube, "ip")
        counts = [h.restart_counts(p) for p in pods]
        ok = h.all_ready(pods, 3, "game:v2") and all(c == {"c0": 1, "c1": 0} for c in counts)
        return pods if ok else None

    pods = await until(restarted, timeout=30, what="c0 restarted once in every pod, c1 untouched")
    assert {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods} == before
    assert not pod_log.deleted

    def first_v2() -> list[int] | None:
        # The pod log's watch may lag the GETs above: wait until it saw each pod on game:v2.
        seen = {}
        for i, p in enumerate(pod_log.versions):
            if h.images(p)[0] == "game:v2":
                seen.setdefault(p["metadata"]["name"], i)
        return [seen[n] for n in ("ip-2", "ip-1", "ip-0")] if len(seen) == 3 else None

    updated_at = await until(first_v2, what="the pod log seeing every pod on game:v2")
    assert updated_at == sorted(updated_at)  # highest ordinal first, one at a time (maxUnavailable 1)


async def test_hot_patch_keeps_containers_running(
    gkube: client.KubeClient, gsts_operators: Running, pod_log: PodLog
) -> None:
    strategy = {"type": "HotPatchUpdate"}
    body = h.game_statefulset("hp", 2, strategy=strategy, podManagementPolicy="Parallel")
    await gkube.create(model.GAMESTATEFULSETS, h.NS, body)
    before = {
        p["metadata"]["uid"]: p["status"]["containerStatuses"][0]["imageID"]
        for p in await _all(gkube, "hp", 2)
    }
    await h.set_image_of(gkube, model.GAMESTATEFULSETS, "hp", "game:v2")

    async def patched() -> list | None:
        pods = await h.pods_of(gkube, "hp")
        ok = len(pods) == 2 and all(
            p["status"]["containerStatuses"][0]["image"].endswith("game:v2")
            and p["status"]["containerStatuses"][0]["imageID"] != before.get(p["metadata"]["uid"])
            for p in pods
        )
        return pods if ok else None

    pods = await until(patched, what="images hot-patched")
    assert {p["metadata"]["uid"] for p in pods} == set(before)
    assert all(h.restart_counts(p) == {"c0": 0} for p in pods)
    assert not pod_log.deleted
    await until(lambda: _st_is(gkube, "hp", updatedReadyReplicas=2), what="status updated")


async def _st_is(kube: client.KubeClient, name: str, **want: Any) -> bool:
    st = await _status(kube, name)
    return all(st.get(k) == v for k, v in want.items())


async def test_canary_steps_progress_pause_and_resume(
    gkube: client.KubeClient, gsts_operators: Running
) -> None:
    steps = [{"partition": 2}, {"pause": {}}, {"partition": 0}]
    strategy = {
        "type": "InplaceUpdate",
        "rollingUpdate": {"maxUnavailable": "50%"},
        "canary": {"steps": steps},
    }
    body = h.game_statefulset("cs", 4, strategy=strategy, podManagementPolicy="Parallel")
    await gkube.create(model.GAMESTATEFULSETS, h.NS, body)
    await _all(gkube, "cs", 4)
    assert (await _status(gkube, "cs"))["currentStepIndex"] == 3  # a new workload has nothing to walk
    await h.set_image_of(gkube, model.GAMESTATEFULSETS, "cs", "game:v2")

    async def paused() -> bool:
        st = await _status(gkube, "cs")
        return any(c.get("reason") == "PausedByCanaryPauseStep" for c in st.get("pauseConditions") or [])

    await until(paused, timeout=30, what="the pause step reached")
    obj = await h.gsts(gkube, "cs")
    assert obj["spec"]["updateStrategy"]["paused"] is True
    assert obj["status"]["currentStepIndex"] == 1
    pods = h.by_name(await h.pods_of(gkube, "cs"))
    want = {"cs-0": "game:v1", "cs-1": "game:v1", "cs-2": "game:v2", "cs-3": "game:v2"}
    assert {n: h.images(p)[0] for n, p in pods.items()} == want  # partition 2 held from the top
    await gkube.patch(model.GAMESTATEFULSETS, h.NS, "cs", {"spec": {"updateStrategy": {"paused": False}}})
    await _all(gkube, "cs", 4, "game:v2")
    await until(lambda: _st_is(gkube, "cs", currentStepIndex=3, updatedReadyReplicas=4), what="steps done")
    st = await _status(gkube, "cs")
    assert st["canary"]["revision"] == st["updateRevision"]
    assert st["pauseConditions"] == []


async def test_pre_delete_hook_holds_the_rolling_update(
    gkube: client.KubeClient, gsts_operators: Running, web_target: WebTarget, pod_log: PodLog
) -> None:
    metric = {
        "name": "drained",
        "successCondition": 'result == "true"',
        "interval": "100ms",
        "successfulLimit": 1,
        "failureLimit": -1,
        "provider": {"web": {"url": web_target.script("drain", (200, {"ok": False})), "jsonPath": "{$.ok}"}},
    }
    await gkube.create(
        hook_model.HOOKTEMPLATES, h.NS, {"metadata": {"name": "drain"}, "spec": {"metrics": [metric]}}
    )
    body = h.game_statefulset(
        "pd",
        2,
        strategy={"type": "RollingUpdate"},
        podManagementPolicy="Parallel",
        preDeleteUpdateStrategy={"hook": {"templateName": "drain"}},
    )
    await gkube.create(model.GAMESTATEFULSETS, h.NS, body)
    await _all(gkube, "pd", 2)
    await h.set_image_of(gkube, model.GAMESTATEFULSETS, "pd", "game:v2")

    async def waiting() -> bool:
        st = await _status(gkube, "pd")
        return [c["podName"] for c in st.get("preDeleteHookCondition") or []] == ["pd-1"] and web_target.hits(
            "drain"
        ) >= 3

    await until(waiting, what="the pre-delete hook of the top ordinal asked 3 times")
    pods = h.by_name(await h.pods_of(gkube, "pd"))
    assert not pod_log.deleted  # "not yet": the top ordinal stays, and so does everything below it
    assert gd_model.DELETING_ANNOTATION in pods["pd-1"]["metadata"]["annotations"]
    assert gd_model.DELETING_ANNOTATION not in (pods["pd-0"]["metadata"].get("annotations") or {})
    web_target.script("drain", (200, {"ok": True}))
    await _all(gkube, "pd", 2, "game:v2")
    assert pod_log.deleted == ["pd-1", "pd-0"]
    await until(lambda: _st_is(gkube, "pd", preDeleteHookCondition=[]), what="conditions cleared")
