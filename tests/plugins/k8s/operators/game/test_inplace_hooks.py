"""Pre-inplace and post-inplace hooks of both game workloads, on the simulator with the Hook operator."""

from __future__ import annotations

from typing import Any

import pytest

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamedeployment import model as gd_model
from bcs.plugins.k8s.operators.gamestatefulset import model as gsts_model
from bcs.plugins.k8s.operators.hook import model as hook_model
from bcs.plugins.k8s.operators.workload import hooks, revisions
from tests.plugins.k8s.conftest import WebTarget, until
from tests.plugins.k8s.operators.game import helpers as h
from tests.plugins.k8s.operators.game.conftest import PodLog, Running

KINDS = {
    "GameDeployment": (gd_model.GAMEDEPLOYMENTS, h.game_deployment, {"maxUnavailable": 1}),
    "GameStatefulSet": (
        gsts_model.GAMESTATEFULSETS,
        h.game_statefulset,
        {"rollingUpdate": {"maxUnavailable": 1}},
    ),
}


async def _runs(kube: client.KubeClient, type_: str) -> list[dict[str, Any]]:
    items = (await kube.list(hook_model.HOOKRUNS, h.NS)).get("items") or []
    return [r for r in items if r["metadata"]["labels"].get(hooks.TYPE_LABEL) == type_]


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_pre_inplace_hook_gates_the_update_and_post_inplace_reports(
    kind: str, gkube: client.KubeClient, operators: Running, web_target: WebTarget, pod_log: PodLog
) -> None:
    resource, manifest, budget = KINDS[kind]
    if kind == "GameStatefulSet":
        operators.start_gsts()
    pre = web_target.script("pre", (200, {"ok": False}))
    await h.hook_template(gkube, "pre", pre, interval="100ms", successfulLimit=1, failureLimit=-1)
    await h.hook_template(gkube, "post", web_target.script("post", (200, {"ok": True})))
    body = manifest(
        "ih",
        2,
        strategy={"type": "InplaceUpdate", **budget},
        images=("game:v1", "sidecar:v1"),
        preInplaceUpdateStrategy={"hook": {"templateName": "pre"}},
        postInplaceUpdateStrategy={"hook": {"templateName": "post"}},
    )
    await gkube.create(resource, h.NS, body)

    async def ready(image: str) -> list | None:
        pods = await h.pods_of(gkube, "ih")
        return pods if h.all_ready(pods, 2, image) else None

    pods = await until(lambda: ready("game:v1"), timeout=30, what="2 pods at v1")
    uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods}
    old_rev = pods[0]["metadata"]["labels"][revisions.REVISION_LABEL]
    await h.set_image_of(gkube, resource, "ih", "game:v2")

    async def asked() -> dict | None:
        st = (await gkube.get(resource, h.NS, "ih")).get("status") or {}
        return st if st.get("preInplaceHookCondition") and web_target.hits("pre") >= 3 else None

    st = await until(asked, what="the pre-inplace hook asked 3 times")
    assert {c["podName"] for c in st["preInplaceHookCondition"]} <= set(uids)
    pods = await h.pods_of(gkube, "ih")
    assert [h.images(p) for p in pods] == [["game:v1", "sidecar:v1"]] * 2  # "not yet": nothing updated
    assert all(h.restart_counts(p) == {"c0": 0, "c1": 0} for p in pods)
    pre_runs = await _runs(gkube, hooks.PRE_INPLACE)
    assert pre_runs
    assert {r["metadata"]["labels"][hooks.REVISION_LABEL] for r in pre_runs} == {old_rev}
    assert not await _runs(gkube, hooks.POST_INPLACE)

    web_target.script("pre", (200, {"ok": True}))
    await until(lambda: ready("game:v2"), timeout=30, what="both pods updated in place")

    async def reported() -> dict | None:
        st = (await gkube.get(resource, h.NS, "ih")).get("status") or {}
        post = st.get("postInplaceHookCondition") or []
        done = sorted(c["podName"] for c in post if c.get("phase") == hook_model.SUCCESSFUL)
        return st if done == sorted(uids) and not st.get("preInplaceHookCondition") else None

    st = await until(reported, what="post-inplace results in status, pre-inplace conditions cleared")
    post_runs = await _runs(gkube, hooks.POST_INPLACE)
    assert {r["metadata"]["labels"][hooks.REVISION_LABEL] for r in post_runs} == {st["updateRevision"]}
    assert st["updateRevision"] != old_rev  # so each post-inplace run started after its pod's update
    pod_args = sorted(a["value"] for r in post_runs for a in r["spec"]["args"] if a["name"] == "PodName")
    assert pod_args == sorted(uids)
    pods = await h.pods_of(gkube, "ih")
    assert {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods} == uids
    assert all(h.restart_counts(p) == {"c0": 1, "c1": 0} for p in pods)
    assert not pod_log.deleted
