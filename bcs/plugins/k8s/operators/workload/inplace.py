"""In-place and hot-patch updates of a pod's container images (bk-bcs §5.3).

In-place: optionally set the ``InPlaceUpdateReady`` condition False (only when the template declares
that readiness gate; ``Ready`` is the kubelet's and is never written here, unlike the bug fixed by
bk-bcs PR #1502), wait ``gracePeriodSeconds`` (the target is parked in ``inplace-update-grace``), then
patch images + revision label and record the containers' ``imageID`` in ``inplace-update-state``. The
update is complete once every changed container reports another ``imageID``; then the condition goes
back to True.

Hot patch: images and revision label are patched with ``hotpatch-update-state`` and the hot-patch
marker. bk-bcs marks the pod with ``io.kubernetes.hotpatch.container`` for its customised kubelet;
:func:`hot_patch_marks` is the ONE place that maps this onto the simulator's kubelet, which takes an
image change without restart when ``sim.bcs.io/hot-patch`` is ``"true"``. Both keys are written, so the
pod works on either kubelet; an in-place update clears them so that it really restarts.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Mapping
from typing import Any

from bcs.plugins.k8s.operators.workload import pods as podutil
from bcs.plugins.k8s.operators.workload import revisions

__all__ = [
    "STATE_ANNOTATION",
    "GRACE_ANNOTATION",
    "HOTPATCH_STATE_ANNOTATION",
    "BKBCS_HOT_PATCH_ANNOTATION",
    "SIM_HOT_PATCH_ANNOTATION",
    "NotImageOnly",
    "hot_patch_marks",
    "image_changes",
    "has_gate",
    "with_condition",
    "start",
    "apply",
    "hot_patch",
    "in_progress",
    "completed",
    "state_revision",
    "grace_due",
]

STATE_ANNOTATION = "inplace-update-state"
GRACE_ANNOTATION = "inplace-update-grace"
HOTPATCH_STATE_ANNOTATION = "hotpatch-update-state"
BKBCS_HOT_PATCH_ANNOTATION = "io.kubernetes.hotpatch.container"
# Must equal bcs.sim.kube.controllers.kubelet.HOT_PATCH_ANNOTATION (asserted by a test; the operator
# must not import the simulator).
SIM_HOT_PATCH_ANNOTATION = "sim.bcs.io/hot-patch"


class NotImageOnly(ValueError):
    """The new template changes more than container images (and pod labels/annotations)."""


def hot_patch_marks(containers: list[str] | None) -> dict[str, str | None]:
    """Annotations telling a kubelet to hot-patch (``containers``) or to restart (None) on image change."""
    if containers is None:
        return {BKBCS_HOT_PATCH_ANNOTATION: None, SIM_HOT_PATCH_ANNOTATION: None}
    return {BKBCS_HOT_PATCH_ANNOTATION: ",".join(containers), SIM_HOT_PATCH_ANNOTATION: "true"}


def _for_patch(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``pod`` whose metadata (labels, annotations) and container entries may be changed.

    Only those are written back (as a JSON patch), so the rest (status, the rest of spec) is shared
    with ``pod`` rather than deep-copied: a rollout pass copies hundreds of pods.
    """
    new = dict(pod)
    meta = new["metadata"] = dict(pod.get("metadata") or {})
    meta["labels"] = dict(meta.get("labels") or {})
    meta["annotations"] = dict(meta.get("annotations") or {})
    spec = new["spec"] = dict(pod.get("spec") or {})
    spec["containers"] = [dict(c) for c in spec.get("containers") or []]
    return new


def _without_images(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A view of ``spec`` without container images, for comparison only (shares the rest)."""
    out = dict(spec)
    out["containers"] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get("containers") or []]
    return out


def image_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, str]:
    """``{container: new image}`` between two pod templates; :class:`NotImageOnly` if more changed."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if _without_images(old_spec) != _without_images(new_spec):
        raise NotImageOnly("not only replace spec.containers[x].image")
    before = {c.get("name"): c.get("image") for c in old_spec.get("containers") or []}
    return {
        c["name"]: c.get("image", "")
        for c in new_spec.get("containers") or []
        if before.get(c.get("name")) != c.get("image")
    }


def has_gate(pod: Mapping[str, Any]) -> bool:
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    return any(g.get("conditionType") == podutil.INPLACE_READY for g in gates)


def with_condition(
    pod: Mapping[str, Any], value: bool, now: str, *, reason: str = ""
) -> dict[str, Any] | None:
    """A copy of ``pod`` with ``InPlaceUpdateReady`` set, or None when it already has that value."""
    want = "True" if value else "False"
    cur = podutil.condition(pod, podutil.INPLACE_READY)
    if cur is not None and cur.get("status") == want:
        return None
    new = dict(pod)  # only status.conditions changes: share everything else
    new["status"] = dict(pod.get("status") or {})
    conds = [c for c in new["status"].get("conditions") or [] if c.get("type") != podutil.INPLACE_READY]
    cond: dict[str, Any] = {"type": podutil.INPLACE_READY, "status": want, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    conds.append(cond)
    new["status"]["conditions"] = conds
    return new


def _target(
    images: Mapping[str, str], revision: str, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> str:
    return json.dumps(
        {
            "images": dict(images),
            "revision": revision,
            "labels": dict(labels),
            "annotations": dict(annotations),
        },
        sort_keys=True,
    )


def start(
    pod: Mapping[str, Any],
    *,
    images: Mapping[str, str],
    revision: str,
    template_meta: Mapping[str, Any],
    grace_seconds: int,
    now: str,
) -> dict[str, Any]:
    """A copy of ``pod`` with the update applied now, or parked in the grace annotation."""
    labels = template_meta.get("labels") or {}
    annotations = template_meta.get("annotations") or {}
    if grace_seconds > 0:
        new = _for_patch(pod)
        ann = new["metadata"]["annotations"]
        ann[GRACE_ANNOTATION] = json.dumps(
            {
                "target": json.loads(_target(images, revision, labels, annotations)),
                "since": now,
                "grace": grace_seconds,
            }
        )
        return new
    return apply(pod, images=images, revision=revision, labels=labels, annotations=annotations, now=now)


def apply(
    pod: Mapping[str, Any],
    *,
    images: Mapping[str, str],
    revision: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    now: str,
) -> dict[str, Any]:
    """A copy of ``pod`` with new images, revision label and ``inplace-update-state``."""
    new = _for_patch(pod)
    meta = new["metadata"]
    statuses = {cs.get("name"): cs for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    ann = meta["annotations"]
    ann.update(annotations)
    ann.pop(GRACE_ANNOTATION, None)
    for key in hot_patch_marks(None):
        ann.pop(key, None)
    ann[STATE_ANNOTATION] = json.dumps(
        {
            "revision": revision,
            "updateTimestamp": now,
            "lastContainerStatuses": {
                name: {"imageID": (statuses.get(name) or {}).get("imageID", "")} for name in images
            },
        },
        sort_keys=True,
    )
    meta["labels"].update({**labels, revisions.REVISION_LABEL: revision})
    for c in new["spec"]["containers"]:
        if c.get("name") in images:
            c["image"] = images[c["name"]]
    return new


def hot_patch(
    pod: Mapping[str, Any], *, images: Mapping[str, str], revision: str, labels: Mapping[str, str], now: str
) -> dict[str, Any]:
    """A copy of ``pod`` hot-patched to ``images`` (containers keep running)."""
    new = _for_patch(pod)
    meta = new["metadata"]
    ann = meta["annotations"]
    ann.update({k: v for k, v in hot_patch_marks(sorted(images)).items() if v is not None})
    ann[HOTPATCH_STATE_ANNOTATION] = json.dumps(
        {"revision": revision, "updateTimestamp": now, "images": dict(images)}, sort_keys=True
    )
    meta["labels"].update({**labels, revisions.REVISION_LABEL: revision})
    for c in new["spec"]["containers"]:
        if c.get("name") in images:
            c["image"] = images[c["name"]]
    return new


@functools.lru_cache(maxsize=16384)
def _parse_state(raw: str) -> dict[str, Any] | None:
    # Every pass reads the state of every pod; the text only changes with an update, so parse it once.
    # Callers only read the result (it is shared).
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _state(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(STATE_ANNOTATION)
    return _parse_state(raw) if raw else None


def state_revision(pod: Mapping[str, Any]) -> str | None:
    """The revision recorded by the last in-place update, if any."""
    state = _state(pod)
    return None if state is None else str(state.get("revision") or "")


def completed(pod: Mapping[str, Any]) -> bool:
    """True unless an in-place update is recorded whose containers still report their old imageID."""
    state = _state(pod)
    if state is None:
        return True
    statuses = {cs.get("name"): cs for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    for name, last in (state.get("lastContainerStatuses") or {}).items():
        cs = statuses.get(name) or {}
        if not cs.get("imageID") or cs.get("imageID") == last.get("imageID"):
            return False
    return True


def in_progress(pod: Mapping[str, Any]) -> bool:
    """Parked in a grace period, or applied but not yet completed."""
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    return GRACE_ANNOTATION in ann or not completed(pod)


def grace_due(pod: Mapping[str, Any], now_ts: float) -> tuple[dict[str, Any] | None, float]:
    """``(target, seconds left)`` of a parked update; target is None when nothing is parked."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(GRACE_ANNOTATION)
    if not raw:
        return None, 0.0
    try:
        parked = json.loads(raw)
    except ValueError:
        return None, 0.0
    since = datetime.datetime.fromisoformat(str(parked.get("since")).replace("Z", "+00:00")).timestamp()
    return parked.get("target") or {}, max(since + float(parked.get("grace") or 0) - now_ts, 0.0)
