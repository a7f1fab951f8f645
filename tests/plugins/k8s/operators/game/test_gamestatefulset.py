"""GameStatefulSet scenarios on the simulator (real HTTP): pod management, scaling, PVCs, OnDelete and
RollingUpdate with partition and maxSurge, asserting pod-level outcomes."""

from __future__ import annotations

import itertools
from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamestatefulset import model
from bcs.plugins.k8s.operators.workload import controller as wl_controller
from bcs.plugins.k8s.operators.workload import pods as podutil
from tests.plugins.k8s.conftest import until
from tests.plugins.k8s.operators.game import helpers as h
from tests.plugins.k8s.operators.game.conftest import PodLog, Running

NEVER_READY = [{"conditionType": "bcs.test/never"}]  # a readiness gate nobody sets


async def _ready(kube: client.KubeClient, app: str, names: list[str], image: str | None = None) -> list:
    async def check() -> list | None:
        pods = await h.pods_of(kube, app)
        ok = sorted(p["metadata"]["name"] for p in pods) == sorted(names)
        return pods if ok and h.all_ready(pods, len(names), image) else None

    return await until(check, timeout=30, what=f"{names} ready at {image}")


async def _first(log: PodLog, name: str, pred: Any = lambda p: True) -> int:
    """Where the pod log first saw ``name`` matching ``pred`` (its watch may lag the GETs)."""

    def found() -> int | None:
        hits = (i for i, p in enumerate(log.versions) if p["metadata"]["name"] == name and pred(p))
        return next(hits, None)

    # a 1-tuple, since index 0 is a valid (falsy) answer
    (index,) = await until(lambda: (found(),) if found() is not None else None, what=f"{name} in the pod log")
    return index


async def test_ordered_ready_creates_in_order_and_updates_from_the_top(
    gkube: client.KubeClient, gsts_operators: Running, pod_log: PodLog
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    await gkube.create(model.GAMESTATEFULSETS, h.NS, h.game_statefulset("gs", 3, strategy=strategy))
    names = ["gs-0", "gs-1", "gs-2"]
    pods = await _ready(gkube, "gs", names)
    first_seen = [await _first(pod_log, n) for n in names]
    assert first_seen == sorted(first_seen)
    for lower, higher in itertools.pairwise(names):
        # OrderedReady waited for the lower ordinal to be Ready before creating the next
        assert await _first(pod_log, lower, podutil.is_ready) < first_seen[names.index(higher)]
    assert all(p["metadata"]["labels"][model.POD_ORDINAL_LABEL] == p["metadata"]["name"][-1] for p in pods)
    assert all(p["metadata"]["labels"][model.POD_NAME_LABEL] == p["metadata"]["name"] for p in pods)

    await h.set_image_of(gkube, model.GAMESTATEFULSETS, "gs", "game:v2")

    async def updated() -> bool:
        pods = h.by_name(await h.pods_of(gkube, "gs"))
        want = {"gs-0": "game:v1", "gs-1": "game:v2", "gs-2": "game:v2"}
        return h.all_ready(list(pods.values()), 3) and {n: h.images(p)[0] for n, p in pods.items()} == want

    await until(updated, timeout=30, what="ordinals 2 and 1 updated, 0 kept by the partition")
    assert pod_log.deleted == ["gs-2", "gs-1"]  # from the highest ordinal down to the partition
    st = (await h.gsts(gkube, "gs"))["status"]
    assert (st["updatedReplicas"], st["currentReplicas"]) == (2, 1)
    # the controller's own registry (what bcs serve joins into /metrics)
    assert gsts_operators.gsts is not None
    text = gsts_operators.gsts.metrics.render().decode()
    assert 'bcs_gamestatefulset_pod_actions_total{action="create"} 5.0' in text
    assert 'bcs_gamestatefulset_pod_actions_total{action="delete"} 2.0' in text
    assert 'bcs_gamestatefulset_reconciles_total{result="ok"}' in text
    assert "bcs_gamestatefulset_reconcile_duration_seconds_count" in text
    assert "bcs_gamestatefulset_queue_depth" in text


async def test_parallel_creates_all_at_once_ordered_ready_waits(
    gkube: client.KubeClient, gsts_operators: Running
) -> None:
    ordered = h.game_statefulset("ord", 3)
    ordered["spec"]["template"]["spec"]["readinessGates"] = NEVER_READY
    await gkube.create(model.GAMESTATEFULSETS, h.NS, ordered)

    async def ord_running() -> bool:
        pods = await h.pods_of(gkube, "ord")
        st = (await h.gsts(gkube, "ord")).get("status") or {}
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        return len(running) == 1 and st.get("replicas") == 1

    await until(ord_running, what="ord-0 running, never ready")
    parallel = h.game_statefulset("par", 4, podManagementPolicy="Parallel")
    parallel["spec"]["template"]["spec"]["readinessGates"] = NEVER_READY
    await gkube.create(model.GAMESTATEFULSETS, h.NS, parallel)

    async def all_four() -> list | None:
        pods = await h.pods_of(gkube, "par")
        return pods if len(pods) == 4 else None

    pods = await until(all_four, what="4 parallel pods without any being ready")
    assert sorted(p["metadata"]["name"] for p in pods) == ["par-0", "par-1", "par-2", "par-3"]
    assert not any(podutil.is_ready(p) for p in await h.pods_of(gkube, "par"))
    # OrderedReady still waits on its unready ordinal 0
    assert [p["metadata"]["name"] for p in await h.pods_of(gkube, "ord")] == ["ord-0"]
    # Parallel scale-down does not wait on unready pods either
    await gkube.patch(model.GAMESTATEFULSETS, h.NS, "par", {"spec": {"replicas": 1}})

    async def one_left() -> bool:
        return [p["metadata"]["name"] for p in await h.pods_of(gkube, "par")] == ["par-0"]

    await until(one_left, what="par scaled down to par-0")


async def test_on_delete_updates_only_deleted_pods(
    gkube: client.KubeClient, gsts_operators: Running, pod_log: PodLog
) -> None:
    await gkube.create(
        model.GAMESTATEFULSETS, h.NS, h.game_statefulset("od", 3, podManagementPolicy="Parallel")
    )
    before = {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in await _ready(gkube, "od", ["od-0", "od-1", "od-2"])
    }
    await h.set_image_of(gkube, model.GAMESTATEFULSETS, "od", "game:v2")

    async def new_revision() -> bool:
        st = (await h.gsts(gkube, "od")).get("status") or {}
        return bool(st.get("updateRevision")) and st["updateRevision"] != st.get("currentRevision")

    await until(new_revision, what="the new update revision in status")
    await gkube.delete(wl_controller.PODS, h.NS, "od-1")

    async def recreated() -> list | None:
        pods = h.by_name(await h.pods_of(gkube, "od"))
        od1 = pods.get("od-1")
        fresh = od1 is not None and od1["metadata"]["uid"] != before["od-1"]
        return list(pods.values()) if fresh and h.all_ready(list(pods.values()), 3) else None

    pods = h.by_name(await until(recreated, what="od-1 recreated"))
    assert {n: h.images(p)[0] for n, p in pods.items()} == {
        "od-0": "game:v1",
        "od-1": "game:v2",
        "od-2": "game:v1",
    }
    assert {n: pods[n]["metadata"]["uid"] for n in ("od-0", "od-2")} == {
        n: before[n] for n in ("od-0", "od-2")
    }
    assert pod_log.deleted == ["od-1"]


async def test_volume_claims_per_ordinal_are_kept_after_scale_down(
    gkube: client.KubeClient, gsts_operators: Running
) -> None:
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    body = h.game_statefulset("vol", 3, podManagementPolicy="Parallel", volumeClaimTemplates=[claim])
    await gkube.create(model.GAMESTATEFULSETS, h.NS, body)
    pods = await _ready(gkube, "vol", ["vol-0", "vol-1", "vol-2"])
    for p in pods:
        mounted = [
            v["persistentVolumeClaim"]["claimName"]
            for v in p["spec"]["volumes"]
            if "persistentVolumeClaim" in v
        ]
        assert mounted == [f"data-{p['metadata']['name']}"]

    async def claims() -> dict[str, str]:
        items = (await gkube.list(model.PVCS, h.NS)).get("items") or []
        return {c["metadata"]["name"]: c["metadata"]["uid"] for c in items}

    first = await claims()
    assert sorted(first) == ["data-vol-0", "data-vol-1", "data-vol-2"]
    await gkube.patch(model.GAMESTATEFULSETS, h.NS, "vol", {"spec": {"replicas": 1}})
    await _ready(gkube, "vol", ["vol-0"])
    assert await claims() == first  # kept, not recreated
    await gkube.patch(model.GAMESTATEFULSETS, h.NS, "vol", {"spec": {"replicas": 2}})
    pods = h.by_name(await _ready(gkube, "vol", ["vol-0", "vol-1"]))
    assert await claims() == first  # vol-1 came back onto its old claim
    assert any(
        v.get("persistentVolumeClaim", {}).get("claimName") == "data-vol-1"
        for v in pods["vol-1"]["spec"]["volumes"]
    )


async def test_rolling_update_max_surge_is_honoured(
    gkube: client.KubeClient, gsts_operators: Running, pod_log: PodLog
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await gkube.create(model.GAMESTATEFULSETS, h.NS, h.game_statefulset("sg", 3, strategy=strategy))
    names = ["sg-0", "sg-1", "sg-2"]
    await _ready(gkube, "sg", names)
    start = len(pod_log.versions)
    pod_log.max_alive = len(pod_log.alive)
    await h.set_image_of(gkube, model.GAMESTATEFULSETS, "sg", "game:v2")
    await _ready(gkube, "sg", names, "game:v2")
    await until(lambda: "sg-3" in pod_log.deleted, what="the surge pod removed")
    assert pod_log.max_alive == 4  # one surge pod, never more
    surge = [p for p in pod_log.versions[start:] if p["metadata"]["name"] == "sg-3"]
    assert surge
    assert all(h.images(p) == ["game:v2"] for p in surge)
    # maxUnavailable 0: never fewer than 3 ready pods during the rollout
    latest: dict[str, dict[str, Any]] = {}
    for p in pod_log.versions[:start]:
        latest[p["metadata"]["name"]] = p
    fewest = 3
    for p in pod_log.versions[start:]:
        latest[p["metadata"]["name"]] = p
        ready = [q for q in latest.values() if podutil.is_ready(q) and not podutil.is_terminating(q)]
        fewest = min(fewest, len(ready))
    assert fewest == 3
    assert pod_log.deleted == ["sg-2", "sg-1", "sg-0", "sg-3"]
