"""GameDeployment scenarios on the simulator (real HTTP), asserting pod-level outcomes."""

from __future__ import annotations

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamedeployment import model
from bcs.plugins.k8s.operators.workload import controller as wl_controller
from bcs.plugins.k8s.operators.workload import pods as podutil
from bcs.plugins.k8s.operators.workload import revisions
from tests.plugins.k8s.conftest import until
from tests.plugins.k8s.operators.game import helpers as h
from tests.plugins.k8s.operators.game.conftest import PodLog, Running


async def _ready(kube: client.KubeClient, app: str, n: int, image: str | None = None) -> list:
    async def check() -> list | None:
        pods = await h.pods_of(kube, app)
        return pods if h.all_ready(pods, n, image) else None

    return await until(check, timeout=30, what=f"{n} ready pods of {app} at {image}")


async def test_scale_with_pods_to_delete_and_deletion_costs(
    gkube: client.KubeClient, operators: Running
) -> None:
    await gkube.create(model.GAMEDEPLOYMENTS, h.NS, h.game_deployment("web", 4))
    pods = await _ready(gkube, "web", 4)
    assert len({p["metadata"]["labels"][model.INSTANCE_ID_LABEL] for p in pods}) == 4
    rev = pods[0]["metadata"]["labels"][revisions.REVISION_LABEL]
    assert await gkube.get(revisions.CONTROLLER_REVISIONS, h.NS, f"web-{rev}")
    # pod deletion cost: the cheapest pod goes first on scale-down
    costs = dict(zip((p["metadata"]["name"] for p in pods), (5, 1, 9, 7), strict=True))
    for name, cost in costs.items():
        await gkube.patch(
            wl_controller.PODS,
            h.NS,
            name,
            {"metadata": {"annotations": {podutil.POD_DELETION_COST: str(cost)}}},
        )
    await gkube.patch(model.GAMEDEPLOYMENTS, h.NS, "web", {"spec": {"replicas": 3}})
    left = await _ready(gkube, "web", 3)
    cheapest = min(costs, key=costs.__getitem__)
    assert cheapest not in {p["metadata"]["name"] for p in left}
    # podsToDelete names a specific pod, whatever its cost
    victim = max(costs, key=costs.__getitem__)
    await gkube.patch(
        model.GAMEDEPLOYMENTS,
        h.NS,
        "web",
        {"spec": {"replicas": 2, "scaleStrategy": {"podsToDelete": [victim]}}},
    )
    left = await _ready(gkube, "web", 2)
    names = {p["metadata"]["name"] for p in left}
    assert victim not in names
    assert names <= set(costs)
    # scale up again: new pods, status follows
    await gkube.patch(model.GAMEDEPLOYMENTS, h.NS, "web", {"spec": {"replicas": 3}})
    await _ready(gkube, "web", 3)
    await until(lambda: _status(gkube, "web", readyReplicas=3, replicas=3), what="status")


async def _status(kube: client.KubeClient, name: str, **want: object) -> bool:
    st = (await h.gd(kube, name)).get("status") or {}
    return all(st.get(k) == v for k, v in want.items())


async def test_rolling_update_partition_keeps_exactly_three_old(
    gkube: client.KubeClient, operators: Running
) -> None:
    strategy = {"type": "RollingUpdate", "partition": 3, "maxUnavailable": "50%"}
    await gkube.create(model.GAMEDEPLOYMENTS, h.NS, h.game_deployment("part", 10, strategy=strategy))
    await _ready(gkube, "part", 10)
    await h.set_image(gkube, "part", "game:v2")

    async def split() -> bool:
        pods = await h.pods_of(gkube, "part")
        imgs = [h.images(p)[0] for p in pods]
        return h.all_ready(pods, 10) and imgs.count("game:v1") == 3 and imgs.count("game:v2") == 7

    await until(split, timeout=40, what="7 new and 3 old pods")
    await until(lambda: _status(gkube, "part", updatedReplicas=7, updatedReadyReplicas=7), what="status")


async def test_max_surge_is_honoured(gkube: client.KubeClient, operators: Running, pod_log: PodLog) -> None:
    strategy = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    await gkube.create(model.GAMEDEPLOYMENTS, h.NS, h.game_deployment("surge", 3, strategy=strategy))
    await _ready(gkube, "surge", 3)
    pod_log.max_alive = len(pod_log.alive)
    await h.set_image(gkube, "surge", "game:v2")
    await _ready(gkube, "surge", 3, "game:v2")
    assert pod_log.max_alive == 4  # one surge pod at a time, never more


async def test_inplace_update_keeps_pods_and_restarts_only_the_changed_container(
    gkube: client.KubeClient, operators: Running, pod_log: PodLog
) -> None:
    strategy = {"type": "InplaceUpdate", "maxUnavailable": 1}
    body = h.game_deployment("inp", 3, strategy=strategy, images=("game:v1", "sidecar:v1"))
    await gkube.create(model.GAMEDEPLOYMENTS, h.NS, body)
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in await _ready(gkube, "inp", 3)}
    await h.set_image(gkube, "inp", "game:v2")
    after = await _ready(gkube, "inp", 3, "game:v2")

    async def restarted() -> list | None:
        pods = await h.pods_of(gkube, "inp")
        counts = [{cs["name"]: cs["restartCount"] for cs in p["status"]["containerStatuses"]} for p in pods]
        return counts if all(c == {"c0": 1, "c1": 0} for c in counts) else None

    await until(restarted, what="c0 restarted once, c1 untouched")
    after = await h.pods_of(gkube, "inp")
    assert {p["metadata"]["name"]: p["metadata"]["uid"] for p in after} == before
    assert not pod_log.deleted
    seen = [p for p in pod_log.versions if p["metadata"]["name"] in before and podutil.condition(p, "Ready")]
    assert seen
    assert all(
        podutil.is_ready(p)
        for p in seen
        if p["status"].get("phase") == "Running" and h.images(p)[0] == "game:v2"
    )
    assert not any(
        podutil.condition(p, "Ready")["status"] == "False"
        for p in seen
        if (p["metadata"].get("annotations") or {}).get("inplace-update-state")
    )


async def test_inplace_readiness_gate_flips_only_its_condition(
    gkube: client.KubeClient, operators: Running, pod_log: PodLog
) -> None:
    body = h.game_deployment("gate", 2, strategy={"type": "InplaceUpdate"})
    body["spec"]["template"]["spec"]["readinessGates"] = [{"conditionType": podutil.INPLACE_READY}]
    await gkube.create(model.GAMEDEPLOYMENTS, h.NS, body)
    await _ready(gkube, "gate", 2)
    await h.set_image(gkube, "gate", "game:v2")
    await _ready(gkube, "gate", 2, "game:v2")
    gated = [
        p
        for p in pod_log.versions
        if (podutil.condition(p, podutil.INPLACE_READY) or {}).get("status") == "False"
    ]
    assert gated, "InPlaceUpdateReady went False during the update"
    # Ready went False only while the gate said so (the kubelet's doing), never by the operator's hand
    for p in pod_log.versions:
        ready = podutil.condition(p, "Ready")
        if ready and ready["status"] == "False" and p["status"].get("phase") == "Running":
            assert ready.get("reason") == "ReadinessGatesNotReady"


async def test_non_image_change_raises_an_event_and_changes_nothing(
    gkube: client.KubeClient, operators: Running
) -> None:
    await gkube.create(
        model.GAMEDEPLOYMENTS, h.NS, h.game_deployment("strict", 2, strategy={"type": "InplaceUpdate"})
    )
    before = {p["metadata"]["uid"]: p["spec"]["containers"] for p in await _ready(gkube, "strict", 2)}
    ops = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "game:v2"},
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/env",
            "value": [{"name": "MODE", "value": "x"}],
        },
    ]
    await gkube.patch(model.GAMEDEPLOYMENTS, h.NS, "strict", ops, patch_type=client.JSON_PATCH)

    async def event() -> bool:
        evs = (await gkube.list(wl_controller.PODS.__class__("", "v1", "events", "Event"), h.NS)).get(
            "items"
        ) or []
        return any(e["reason"] == "FailedUpdate" and e["involvedObject"]["name"] == "strict" for e in evs)

    await until(event, what="FailedUpdate event")
    await until(lambda: _failed(gkube), what="FailedUpdate condition")
    after = {p["metadata"]["uid"]: p["spec"]["containers"] for p in await h.pods_of(gkube, "strict")}
    assert {u: [c["image"] for c in cs] for u, cs in after.items()} == {
        u: [c["image"] for c in cs] for u, cs in before.items()
    }


async def _failed(kube: client.KubeClient) -> bool:
    st = (await h.gd(kube, "strict")).get("status") or {}
    return any(c.get("type") == "FailedUpdate" for c in st.get("conditions") or [])


async def test_hot_patch_keeps_restart_count(
    gkube: client.KubeClient, operators: Running, pod_log: PodLog
) -> None:
    await gkube.create(
        model.GAMEDEPLOYMENTS, h.NS, h.game_deployment("hot", 2, strategy={"type": "HotPatchUpdate"})
    )
    before = {
        p["metadata"]["uid"]: p["status"]["containerStatuses"][0]["imageID"]
        for p in await _ready(gkube, "hot", 2)
    }
    await h.set_image(gkube, "hot", "game:v2")

    async def patched() -> list | None:
        pods = await h.pods_of(gkube, "hot")
        ok = all(
            p["status"]["containerStatuses"][0]["image"].endswith("game:v2")
            and p["status"]["containerStatuses"][0]["imageID"] != before.get(p["metadata"]["uid"])
            for p in pods
        )
        return pods if ok and len(pods) == 2 else None

    pods = await until(patched, what="images hot-patched")
    assert {p["metadata"]["uid"] for p in pods} == set(before)
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in pods)
    assert not pod_log.deleted
