"""GameStatefulSet scenarios on the simulator: ordered creation, partitioned updates from the top."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamestatefulset import controller as gsts_controller
from bcs.plugins.k8s.operators.gamestatefulset import model
from bcs.plugins.k8s.operators.workload import pods as podutil
from tests.plugins.k8s.conftest import until
from tests.plugins.k8s.operators.game import helpers as h
from tests.plugins.k8s.operators.game.conftest import PodLog


def _gsts(name: str, replicas: int, strategy: dict[str, Any]) -> dict[str, Any]:
    body = h.game_deployment(name, replicas, strategy=strategy)
    body["kind"] = "GameStatefulSet"
    return body


async def test_ordered_ready_creates_in_order_and_updates_from_the_top(
    gkube: client.KubeClient, pod_log: PodLog
) -> None:
    ctl = gsts_controller.GameStatefulSetController(gkube, namespace="default")
    task = asyncio.create_task(ctl.run(), name="gsts controller")
    try:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
        await gkube.create(model.GAMESTATEFULSETS, h.NS, _gsts("gs", 3, strategy))
        names = ["gs-0", "gs-1", "gs-2"]

        async def ready() -> bool:
            pods = await h.pods_of(gkube, "gs")
            return sorted(p["metadata"]["name"] for p in pods) == names and h.all_ready(pods, 3)

        await until(ready, timeout=30, what="gs-0..2 ready")
        first_seen = [
            next(i for i, p in enumerate(pod_log.versions) if p["metadata"]["name"] == n) for n in names
        ]
        assert first_seen == sorted(first_seen)
        for lower, higher in itertools.pairwise(names):
            ready_at = next(
                i
                for i, p in enumerate(pod_log.versions)
                if p["metadata"]["name"] == lower and podutil.is_ready(p)
            )
            assert ready_at < first_seen[names.index(higher)]  # OrderedReady waited for the lower ordinal
        pods = await h.pods_of(gkube, "gs")
        assert all(
            p["metadata"]["labels"][model.POD_ORDINAL_LABEL] == p["metadata"]["name"][-1] for p in pods
        )

        await h.set_image_of(gkube, model.GAMESTATEFULSETS, "gs", "game:v2")

        async def updated() -> bool:
            pods = {p["metadata"]["name"]: p for p in await h.pods_of(gkube, "gs")}
            want = {"gs-0": "game:v1", "gs-1": "game:v2", "gs-2": "game:v2"}
            return (
                h.all_ready(list(pods.values()), 3) and {n: h.images(p)[0] for n, p in pods.items()} == want
            )

        await until(updated, timeout=30, what="ordinals 2 and 1 updated, 0 kept by the partition")
        assert [n for n in pod_log.deleted if n.startswith("gs-")] == ["gs-2", "gs-1"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
