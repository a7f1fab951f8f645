"""Updating a GameDeployment (bk-bcs ``update.Manage``): RollingUpdate, InplaceUpdate, HotPatchUpdate.

Every pass first refreshes in-place state (apply updates whose grace period ended, flip the
``InPlaceUpdateReady`` condition back once the new images run). Then, unless paused, the pods not at
the update revision are sorted like deletion candidates, the last ``partition`` of them stay old, and
the rest are updated while the unavailable budget lasts (``maxUnavailable`` plus the surge in use;
pods that are already unavailable do not consume it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bcs.plugins.k8s.operators.gamedeployment import model
from bcs.plugins.k8s.operators.workload import batch, hooks, inplace
from bcs.plugins.k8s.operators.workload import pods as podutil

if TYPE_CHECKING:
    from bcs.plugins.k8s.operators.gamedeployment.passes import Pass

__all__ = ["manage", "refresh", "in_place", "update_ready", "max_unavailable"]

FAILED_UPDATE = "FailedUpdate"


def update_ready(p: Pass, pod: dict[str, Any]) -> bool:
    """Available, in-place update finished, and the in-place readiness gate (if any) True.

    Remembered for the rest of the pass (keyed by the pod object, which a pass never changes).
    """
    hit = p.memo.get(id(pod))
    if hit is not None and hit[0] is pod:
        return hit[1]
    value = _update_ready(p, pod)
    p.memo[id(pod)] = (pod, value)
    return value


def _update_ready(p: Pass, pod: dict[str, Any]) -> bool:
    if not podutil.is_available(pod, int(p.spec.get("minReadySeconds") or 0), p.now):
        return False
    if inplace.in_progress(pod):
        return False
    if inplace.has_gate(pod):
        c = podutil.condition(pod, podutil.INPLACE_READY)
        return bool(c and c.get("status") == "True")
    return True


def max_unavailable(spec: dict[str, Any]) -> int:
    strategy = spec["updateStrategy"]
    replicas = spec["replicas"]
    surge = podutil.resolve_int_or_percent(strategy.get("maxSurge"), replicas, round_up=True)
    mu = podutil.resolve_int_or_percent(
        strategy.get("maxUnavailable"), replicas, round_up=surge == 0, default="20%"
    )
    return 1 if mu == 0 and surge == 0 else mu


async def refresh(p: Pass, pod: dict[str, Any]) -> None:
    stamp = p.stamp
    target, left = inplace.grace_due(pod, p.now.timestamp())
    if target is not None:
        if left > 0:
            p.requeue(left)
            return
        new = inplace.apply(
            pod,
            images=target.get("images") or {},
            revision=target.get("revision") or "",
            labels=target.get("labels") or {},
            annotations=target.get("annotations") or {},
            now=stamp,
        )
        await p.ctl.replace_pod(p, new, action="inplace")
        return
    done = inplace.completed(pod)
    # Flip the gate True for a new pod (no condition yet) or once an in-place update to the pod's own
    # revision has finished; a False set just before an update must survive until that update is done.
    if done and inplace.has_gate(pod):
        fresh = podutil.condition(pod, podutil.INPLACE_READY) is None
        if fresh or inplace.state_revision(pod) == p.ctl.revision_of(pod):
            flipped = inplace.with_condition(pod, True, stamp)
            if flipped is not None:
                await p.ctl.replace_pod_status(p, flipped)
                pod = flipped
    if not (done and p.spec.get(hooks.STRATEGY_FIELD[hooks.POST_INPLACE])):
        return
    if (pod["metadata"].get("annotations") or {}).get(inplace.STATE_ANNOTATION):
        await p.ctl.glue.check_pod(
            p.gd, pod, type_=hooks.POST_INPLACE, status=p.status, owner_ref=p.owner, now=stamp
        )


def _set_failed(p: Pass, message: str | None) -> bool:
    """Set (message) or clear (None) the FailedUpdate condition; True when it was newly set."""
    conds = [c for c in p.status.get("conditions") or [] if c.get("type") != FAILED_UPDATE]
    had = any(c.get("type") == FAILED_UPDATE for c in p.status.get("conditions") or [])
    if message is not None:
        conds.append(
            {
                "type": FAILED_UPDATE,
                "status": "True",
                "lastTransitionTime": p.stamp,
                "reason": "NotImageOnly",
                "message": message,
            }
        )
    p.status["conditions"] = conds
    return message is not None and not had


async def manage(p: Pass) -> None:
    for pod in list(p.active):
        await refresh(p, pod)
    strategy = p.spec["updateStrategy"]
    if strategy.get("paused"):
        return
    parked = [
        pod for pod in p.not_updated if inplace.GRACE_ANNOTATION in (pod["metadata"].get("annotations") or {})
    ]
    candidates = sorted((pod for pod in p.not_updated if pod not in parked), key=p.ctl.sort_key(p))
    n = len(p.not_updated) - min(p.partition, p.spec["replicas"]) - len(parked)
    if n <= 0 or not candidates:
        if not p.not_updated:
            _set_failed(p, None)
        return
    budget = max_unavailable(p.spec) + max(len(p.active) - p.spec["replicas"], 0)
    not_ready = sum(1 for pod in p.active if not update_ready(p, pod))
    chosen = []
    for pod in candidates[:n]:
        if not update_ready(p, pod):
            chosen.append(pod)
            continue
        if not_ready >= budget:
            break
        not_ready += 1
        chosen.append(pod)
    kind = strategy["type"]
    if kind == model.ROLLING:
        await p.ctl.delete_pods(p, chosen, reason="rolling update")
    else:
        await batch.limited(chosen, lambda pod: in_place(p, pod, hot=kind == model.HOTPATCH))


async def in_place(p: Pass, pod: dict[str, Any], *, hot: bool) -> bool:
    """Update ``pod`` in place or by hot patch; False when the template forbids it (stop updating)."""
    old_tpl = p.ctl.template_of(p, pod)
    if old_tpl is None:
        return True  # its revision is gone from history: nothing safe to compare with; leave the pod
    try:
        images = inplace.image_changes(old_tpl, p.update_tpl)
    except inplace.NotImageOnly as e:
        if _set_failed(p, str(e)):
            await p.ctl.recorder.record(
                p.gd, reason=FAILED_UPDATE, message=f"pod {pod['metadata']['name']}: {e}", warning=True
            )
        return False
    _set_failed(p, None)
    labels = (p.update_tpl.get("metadata") or {}).get("labels") or {}
    if hot:
        new = inplace.hot_patch(pod, images=images, revision=p.update_rev, labels=labels, now=p.stamp)
        await p.ctl.replace_pod(p, new, action="hotpatch")
        return True
    hook_type = hooks.PRE_INPLACE if p.spec.get(hooks.STRATEGY_FIELD[hooks.PRE_INPLACE]) else hooks.PRE_DELETE
    if not await p.ctl.glue.check_pod(
        p.gd, pod, type_=hook_type, status=p.status, owner_ref=p.owner, now=p.stamp
    ):
        return True
    if inplace.has_gate(pod):
        flipped = inplace.with_condition(pod, False, p.stamp, reason="StartInPlaceUpdate")
        if flipped is not None:
            pod = await p.ctl.replace_pod_status(p, flipped)
    grace = int((p.spec["updateStrategy"].get("inPlaceUpdateStrategy") or {}).get("gracePeriodSeconds") or 0)
    new = inplace.start(
        pod,
        images=images,
        revision=p.update_rev,
        template_meta=p.update_tpl.get("metadata") or {},
        grace_seconds=grace,
        now=p.stamp,
    )
    await p.ctl.replace_pod(p, new, action="inplace" if grace <= 0 else "inplace-grace")
    if grace > 0:
        p.requeue(float(grace))
    return True
