"""Unit checks of the shared workload helpers that the scenarios cannot pin down exactly."""

from __future__ import annotations

import asyncio

from bcs.plugins.k8s.operators import cli
from bcs.plugins.k8s.operators.gamestatefulset import model as gsts_model
from bcs.plugins.k8s.operators.workload import batch, events, expectations, inplace, revisions
from bcs.plugins.k8s.operators.workload import pods as podutil
from bcs.sim.kube.controllers import kubelet


def test_hot_patch_marker_matches_the_simulator_kubelet() -> None:
    assert inplace.SIM_HOT_PATCH_ANNOTATION == kubelet.HOT_PATCH_ANNOTATION
    marks = inplace.hot_patch_marks(["c0"])
    assert marks[inplace.BKBCS_HOT_PATCH_ANNOTATION] == "c0"
    assert inplace.hot_patch_marks(None)[kubelet.HOT_PATCH_ANNOTATION] is None


def test_revision_hash_is_stable_and_salted_by_collisions() -> None:
    tpl = {"spec": {"containers": [{"name": "c", "image": "a"}]}}
    assert revisions.template_hash(tpl) == revisions.template_hash(dict(tpl))
    assert revisions.template_hash(tpl) != revisions.template_hash(tpl, 1)


def test_deletion_order_costs_and_sort_method() -> None:
    def pod(name: str, cost: str | None, node: str = "n1") -> dict:
        ann = {podutil.POD_DELETION_COST: cost} if cost is not None else {}
        ready = [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]
        return {
            "metadata": {"name": name, "annotations": ann, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": ready},
        }

    pods = [pod("a", "5"), pod("b", None), pod("c", "1"), pod("d", "3", node="cheap")]
    key = lambda p: podutil.deletion_key(p, node_costs={"cheap": -10})  # noqa: E731
    assert [p["metadata"]["name"] for p in sorted(pods, key=key)] == ["d", "c", "a", "b"]
    desc = lambda p: podutil.deletion_key(p, node_costs={}, descend=True)  # noqa: E731
    assert [p["metadata"]["name"] for p in sorted(pods, key=desc)] == ["a", "d", "c", "b"]


def test_int_or_percent_rounding() -> None:
    assert podutil.resolve_int_or_percent("20%", 4, round_up=True) == 1
    assert podutil.resolve_int_or_percent("20%", 4, round_up=False) == 0
    assert podutil.resolve_int_or_percent(None, 10, round_up=True, default="20%") == 2


def test_in_place_rejects_more_than_images() -> None:
    old = {"spec": {"containers": [{"name": "c", "image": "a"}]}}
    assert inplace.image_changes(old, {"spec": {"containers": [{"name": "c", "image": "b"}]}}) == {"c": "b"}
    try:
        inplace.image_changes(old, {"spec": {"containers": [{"name": "c", "image": "b", "env": []}]}})
    except inplace.NotImageOnly:
        pass
    else:
        raise AssertionError("a non-image change was accepted")


def test_expectations_wait_for_the_cache() -> None:
    now = [0.0]
    exp = expectations.Expectations(timeout=5, clock=lambda: now[0])
    cache: dict[str, dict] = {}
    exp.expect("k", expectations.CREATE, "p")
    assert not exp.satisfied("k", cache.get)
    cache["p"] = {"metadata": {"resourceVersion": "3"}}
    assert exp.satisfied("k", cache.get)
    exp.expect("k", expectations.UPDATE, "p", "7")
    assert not exp.satisfied("k", cache.get)
    now[0] = 6.0  # a missed watch event: the expectation times out
    assert exp.satisfied("k", cache.get)


def test_volume_claim_template_gives_a_kept_pvc() -> None:
    tpl = {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    pvc = gsts_model.claim(tpl, pod_name="gs-0", namespace="ns", labels={"app": "gs"})
    assert pvc["metadata"]["name"] == "data-gs-0"
    assert "ownerReferences" not in pvc["metadata"]


def test_operators_are_registered() -> None:
    assert set(cli.OPERATORS) == {"hook", "gamedeployment", "gamestatefulset"}
    names = {p.name for p in cli._crd_files(cli.CRD_DIR)}
    assert {"gamedeployment.yaml", "gamestatefulset.yaml"} <= names


def test_expectations_cancel_drops_only_that_write() -> None:
    exp = expectations.Expectations()
    exp.expect("k", expectations.CREATE, "a")
    exp.expect("k", expectations.CREATE, "b")
    exp.cancel("k", expectations.CREATE, "a")  # its create failed: it will never show up
    assert exp.pending("k") == 1
    assert exp.satisfied("k", {"b": {"metadata": {}}}.get)


async def test_slow_start_doubles_batches_and_stops_at_a_failure() -> None:
    started: list[int] = []
    batch_ends: set[int] = set()  # how many calls had started when each call finished

    async def make(i: int) -> None:
        started.append(i)
        await asyncio.sleep(0)  # its whole batch starts before any call of it finishes
        batch_ends.add(len(started))
        if i == 9:
            raise ValueError("refused")

    try:
        await batch.slow_start(40, make, limit=4)
    except ValueError:
        pass
    else:
        raise AssertionError("the failure was swallowed")
    assert sorted(batch_ends) == [1, 3, 7, 11]  # batches of 1, 2, 4, then capped at 4
    assert started == list(range(11))  # the batch holding the failure ran in full, then it stopped


async def test_limited_keeps_order_and_bounds_concurrency() -> None:
    running, most = 0, 0

    async def work(i: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1
        return i * 2

    assert await batch.limited(list(range(10)), work, limit=3) == [i * 2 for i in range(10)]
    assert most == 3


async def test_event_recorder_never_blocks_and_drops_beyond_its_backlog() -> None:
    rec = events.Recorder(None, "test", backlog=2)  # type: ignore[arg-type]  # nothing is posted here
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}
    for _ in range(3):
        await rec.record(obj, reason="R", message="m")
    assert (rec.recorded, rec.pending(), rec.dropped) == (3, 2, 1)
