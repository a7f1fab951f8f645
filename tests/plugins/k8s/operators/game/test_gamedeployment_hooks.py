"""GameDeployment canary steps, pre-delete hooks and operator restarts, on the simulator."""

from __future__ import annotations

from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamedeployment import model
from bcs.plugins.k8s.operators.hook import model as hook_model
from bcs.plugins.k8s.operators.workload import hooks
from tests.plugins.k8s.conftest import WebTarget, until
from tests.plugins.k8s.operators.game import helpers as h
from tests.plugins.k8s.operators.game.conftest import PodLog, Running


def _canary(hook_template: str) -> dict[str, Any]:
    steps = [
        {"partition": 3},
        {"pause": {"duration": 1}},
        {"hook": {"templateName": hook_template}},
        {"partition": 0},
    ]
    return {"type": "InplaceUpdate", "maxUnavailable": 1, "canary": {"steps": steps}}


async def _split(kube: client.KubeClient, app: str) -> tuple[int, int]:
    pods = await h.pods_of(kube, app)
    imgs = [h.images(p)[0] for p in pods]
    return imgs.count("game:v1"), imgs.count("game:v2")


async def test_canary_steps_progress_through_pause_and_hook(
    gkube: client.KubeClient, operators: Running, web_target: WebTarget
) -> None:
    await h.hook_template(gkube, "gate-ok", web_target.script("ok", (200, {"ok": True})))
    await gkube.create(model.GAMEDEPLOYMENTS, h.NS, h.game_deployment("can", 4, strategy=_canary("gate-ok")))
    await until(lambda: _st(gkube, "can", readyReplicas=4), what="4 ready")
    await h.set_image(gkube, "can", "game:v2")
    seen_pause = await until(lambda: _paused_by(gkube, "can", "PausedByCanaryPauseStep"), what="pause step")
    assert seen_pause
    assert await _split(gkube, "can") == (3, 1)  # the first step's partition held while paused
    await until(lambda: _st(gkube, "can", currentStepIndex=4), timeout=30, what="all steps done")
    await until(lambda: _done(gkube, "can"), timeout=30, what="all pods updated")
    obj = await h.gd(gkube, "can")
    assert obj["status"]["canary"]["revision"] == obj["status"]["updateRevision"]
    assert obj["spec"]["updateStrategy"]["paused"] is False
    assert web_target.hits("ok") >= 1


async def test_failing_step_hook_pauses_the_rollout(
    gkube: client.KubeClient, operators: Running, web_target: WebTarget
) -> None:
    await h.hook_template(gkube, "gate-bad", web_target.script("bad", (200, {"ok": False})))
    await gkube.create(
        model.GAMEDEPLOYMENTS, h.NS, h.game_deployment("canb", 4, strategy=_canary("gate-bad"))
    )
    await until(lambda: _st(gkube, "canb", readyReplicas=4), what="4 ready")
    await h.set_image(gkube, "canb", "game:v2")
    await until(lambda: _paused_by(gkube, "canb", "PausedByStepBasedHook"), timeout=30, what="hook pause")
    obj = await h.gd(gkube, "canb")
    assert obj["spec"]["updateStrategy"]["paused"] is True
    assert obj["status"]["currentStepIndex"] == 2
    assert await _split(gkube, "canb") == (3, 1)


async def test_pre_delete_hook_blocks_deletion_until_it_succeeds(
    gkube: client.KubeClient, operators: Running, web_target: WebTarget, pod_log: PodLog
) -> None:
    url = web_target.script("drain", (200, {"ok": False}))
    await h.hook_template(gkube, "drain", url, interval="100ms", successfulLimit=1, failureLimit=-1)
    body = h.game_deployment("pd", 2, preDeleteUpdateStrategy={"hook": {"templateName": "drain"}})
    await gkube.create(model.GAMEDEPLOYMENTS, h.NS, body)
    await until(lambda: _st(gkube, "pd", readyReplicas=2), what="2 ready")
    await gkube.patch(model.GAMEDEPLOYMENTS, h.NS, "pd", {"spec": {"replicas": 1}})

    async def waiting() -> bool:
        st = (await h.gd(gkube, "pd")).get("status") or {}
        return bool(st.get("preDeleteHookCondition")) and web_target.hits("drain") >= 3

    await until(waiting, what="pre-delete hook asked 3 times")
    pods = await h.pods_of(gkube, "pd")
    assert len(pods) == 2  # "not yet": nothing deleted
    assert not pod_log.deleted
    assert any(model.DELETING_ANNOTATION in (p["metadata"].get("annotations") or {}) for p in pods)
    runs = (await gkube.list(hook_model.HOOKRUNS, h.NS)).get("items") or []
    assert [r["metadata"]["labels"][hooks.TYPE_LABEL] for r in runs] == [hooks.PRE_DELETE]
    web_target.script("drain", (200, {"ok": True}))
    await until(lambda: _count(gkube, "pd", 1), what="pod deleted after the hook succeeded")
    await until(lambda: _st(gkube, "pd", preDeleteHookCondition=[]), what="condition cleared")


async def test_restarted_operator_finishes_the_rollout_without_extra_pods(
    gkube: client.KubeClient, operators: Running, pod_log: PodLog
) -> None:
    strategy = {
        "type": "InplaceUpdate",
        "maxUnavailable": 1,
        "inPlaceUpdateStrategy": {"gracePeriodSeconds": 1},
    }
    await gkube.create(model.GAMEDEPLOYMENTS, h.NS, h.game_deployment("rs", 4, strategy=strategy))
    await until(lambda: _st(gkube, "rs", readyReplicas=4), what="4 ready")
    names = {p["metadata"]["name"] for p in await h.pods_of(gkube, "rs")}
    await h.set_image(gkube, "rs", "game:v2")

    async def midway() -> bool:
        old, new = await _split(gkube, "rs")
        return new >= 1 and old >= 1

    await until(midway, what="rollout under way")
    await operators.stop("gd")
    assert (await _split(gkube, "rs"))[0] >= 1
    operators.start_gd()
    await until(lambda: _done(gkube, "rs"), timeout=40, what="rollout finished after restart")
    assert {p["metadata"]["name"] for p in await h.pods_of(gkube, "rs")} == names
    assert pod_log.max_alive == 4
    assert not pod_log.deleted


async def _st(kube: client.KubeClient, name: str, **want: Any) -> bool:
    st = (await h.gd(kube, name)).get("status") or {}
    return all(st.get(k, [] if isinstance(v, list) else None) == v for k, v in want.items())


async def _paused_by(kube: client.KubeClient, name: str, reason: str) -> bool:
    st = (await h.gd(kube, name)).get("status") or {}
    return any(c.get("reason") == reason for c in st.get("pauseConditions") or [])


async def _count(kube: client.KubeClient, app: str, n: int) -> bool:
    return len(await h.pods_of(kube, app)) == n


async def _done(kube: client.KubeClient, app: str) -> bool:
    pods = await h.pods_of(kube, app)
    return h.all_ready(pods, len(pods), "game:v2") and len(pods) == 4
