"""Scaling a GameDeployment (bk-bcs ``scale.Manage``): podsToDelete, then the replica diff.

``maxSurge`` applies only to RollingUpdate and only while pods remain to be updated (a deliberate
narrowing: in-place and hot-patch updates keep the pod, so surging adds nothing). With a partition,
pods that must stay old are created at the current revision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bcs.plugins.k8s.operators.gamedeployment import model
from bcs.plugins.k8s.operators.workload import pods as podutil

if TYPE_CHECKING:
    from bcs.plugins.k8s.operators.gamedeployment.passes import Pass

__all__ = ["manage", "surge"]


def surge(p: Pass) -> int:
    """Extra pods allowed now above ``replicas``."""
    strategy = p.spec["updateStrategy"]
    if strategy["type"] != model.ROLLING or strategy.get("paused"):
        return 0
    replicas = p.spec["replicas"]
    waiting = len(p.not_updated) - min(p.partition, replicas)
    if waiting <= 0:
        return 0
    return min(podutil.resolve_int_or_percent(strategy.get("maxSurge"), replicas, round_up=True), waiting)


async def manage(p: Pass) -> bool:
    """Create or delete pods; True when anything was asked of the API (then no update this pass)."""
    names = set(p.spec["scaleStrategy"].get("podsToDelete") or [])
    targets = [pod for pod in p.active if pod["metadata"]["name"] in names]
    if targets:
        await p.ctl.delete_pods(p, targets, reason="podsToDelete")
        return True
    replicas = p.spec["replicas"]
    diff = len(p.active) - replicas - surge(p)
    if diff < 0:
        want = -diff
        old_needed = 0
        if p.current_rev != p.update_rev:
            old_needed = max(min(p.partition, replicas) - len(p.not_updated), 0)
        n_old = min(want, old_needed)
        await p.ctl.create_pods(p, n_old, at_update=False)
        await p.ctl.create_pods(p, want - n_old, at_update=True)
        return True
    if diff > 0:
        key = p.ctl.sort_key(p)
        old = sorted(p.not_updated, key=key)
        new = sorted(p.updated, key=key)
        from_old = min(diff, max(len(old) - min(p.partition, replicas), 0))
        victims = old[:from_old] + new[: diff - from_old]
        if len(victims) < diff:  # every remaining pod is old and kept by the partition: take more old
            victims += old[from_old : from_old + diff - len(victims)]
        await p.ctl.delete_pods(p, victims, reason="scale down")
        return True
    return False
