"""Canary steps of a game workload: ``partition``, timed/untimed ``pause`` and ``hook`` (bk-bcs §5.1).

:func:`reset` restarts the walk when the update revision or the steps change; :func:`progress` moves
``status.currentStepIndex`` forward as far as the steps allow in one pass and says whether
``spec.updateStrategy.paused`` must change. :func:`current_partition` is the partition that applies
now: that of the nearest partition step at or before the current index, ``replicas`` before the first
one, ``spec.updateStrategy.partition`` when there are no steps.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from bcs.plugins.k8s.operators.hook import model as hook_model
from bcs.plugins.k8s.operators.workload import hooks

__all__ = [
    "PAUSED_BY_PAUSE_STEP",
    "PAUSED_BY_HOOK",
    "Counts",
    "Outcome",
    "steps_of",
    "steps_hash",
    "current_partition",
    "reset",
    "progress",
]

PAUSED_BY_PAUSE_STEP = "PausedByCanaryPauseStep"
PAUSED_BY_HOOK = "PausedByStepBasedHook"
_FAILED = frozenset({hook_model.FAILED, hook_model.ERROR, hook_model.INCONCLUSIVE})


@attrs.frozen
class Counts:
    replicas: int
    ready: int
    available: int
    updated_ready: int


@attrs.define
class Outcome:
    paused: bool | None = None  # the value spec.updateStrategy.paused must take, None = leave it
    requeue: float | None = None  # seconds until a timed pause ends
    stop: bool = False  # a pause was just added: write status and end this pass
    events: list[tuple[str, str]] = attrs.Factory(list)


def steps_of(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((((spec.get("updateStrategy") or {}).get("canary") or {}).get("steps")) or [])


def steps_hash(steps: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(steps, sort_keys=True).encode()).hexdigest()[:10] if steps else ""


def _partition_of(step: Mapping[str, Any]) -> int | None:
    value = step.get("partition")
    return None if value is None else int(value)


def current_partition(spec: Mapping[str, Any], status: Mapping[str, Any], replicas: int) -> int:
    steps = steps_of(spec)
    if not steps:
        return int((spec.get("updateStrategy") or {}).get("partition") or 0)
    idx = min(int(status.get("currentStepIndex") or 0), len(steps) - 1)
    for i in range(idx, -1, -1):
        p = _partition_of(steps[i])
        if p is not None:
            return p
    return replicas


def reset(spec: Mapping[str, Any], status: dict[str, Any], update_revision: str) -> bool:
    """Restart the steps when the update revision or the steps changed; True when it did."""
    steps = steps_of(spec)
    digest = steps_hash(steps)
    if status.get("updateRevision") == update_revision and (status.get("currentStepHash") or "") == digest:
        return False
    canary = status.setdefault("canary", {})
    if not status.get("updateRevision"):
        canary["revision"] = update_revision  # a brand-new workload has nothing to canary against
    status["currentStepIndex"] = len(steps) if canary.get("revision") == update_revision else 0
    status["currentStepHash"] = digest
    status["updateRevision"] = update_revision
    status["pauseConditions"] = []
    canary["currentStepHookRun"] = ""
    canary.pop("pauseStartTime", None)
    return True


def _cond(status: dict[str, Any], reason: str) -> dict[str, Any] | None:
    return next((c for c in status.get("pauseConditions") or [] if c.get("reason") == reason), None)


def _drop(status: dict[str, Any], reason: str) -> None:
    status["pauseConditions"] = [c for c in status.get("pauseConditions") or [] if c.get("reason") != reason]


def _add(status: dict[str, Any], reason: str, now: str) -> None:
    status.setdefault("pauseConditions", []).append({"reason": reason, "startTime": now})


async def progress(
    workload: Mapping[str, Any],
    status: dict[str, Any],
    counts: Counts,
    *,
    glue: hooks.HookGlue,
    owner_ref: Mapping[str, Any],
    now: datetime.datetime,
) -> Outcome:
    """Advance ``status.currentStepIndex`` as far as the steps allow now."""
    spec = workload.get("spec") or {}
    steps = steps_of(spec)
    out = Outcome()
    paused = bool((spec.get("updateStrategy") or {}).get("paused"))
    canary = status.setdefault("canary", {})
    stamp = hook_model.format_time(now)
    idx = int(status.get("currentStepIndex") or 0)
    while idx < len(steps):
        step = steps[idx]
        if _partition_of(step) is not None:
            want = counts.replicas - min(_partition_of(step) or 0, counts.replicas)
            if counts.updated_ready < want or counts.available != counts.ready:
                break
        elif "pause" in step:
            cond = _cond(status, PAUSED_BY_PAUSE_STEP)
            if cond is None:
                _add(status, PAUSED_BY_PAUSE_STEP, stamp)
                canary["pauseStartTime"] = stamp
                out.paused, out.stop = True, True
                break
            duration = (step.get("pause") or {}).get("duration")
            if duration is not None:
                start = hook_model.parse_time(cond.get("startTime")) or now
                left = (start - now).total_seconds() + float(duration)
                if left > 0:
                    out.requeue = left
                    break
                out.paused = False
            elif paused:
                break
            _drop(status, PAUSED_BY_PAUSE_STEP)
            canary.pop("pauseStartTime", None)
        elif "hook" in step:
            run = await glue.step_run(
                workload,
                step=step["hook"],
                index=idx,
                revision=status.get("updateRevision", ""),
                owner_ref=owner_ref,
            )
            canary["currentStepHookRun"] = (run.get("metadata") or {}).get("name", "")
            phase = (run.get("status") or {}).get("phase") or hook_model.PENDING
            if phase in _FAILED:
                if _cond(status, PAUSED_BY_HOOK) is None:
                    _add(status, PAUSED_BY_HOOK, stamp)
                    out.paused, out.stop = True, True
                    out.events.append(
                        (
                            "PausedByStepBasedHook",
                            f"step {idx} hook {canary['currentStepHookRun']} is {phase}",
                        )
                    )
                    break
                if paused:
                    break
                _drop(status, PAUSED_BY_HOOK)  # the user unpaused: go past the failed hook
            elif phase != hook_model.SUCCESSFUL:
                break
            canary["currentStepHookRun"] = ""
        idx += 1
        out.events.append(("SetStepIndex", f"canary step index set to {idx}"))
    status["currentStepIndex"] = idx
    if idx >= len(steps):
        canary["revision"] = status.get("updateRevision", "")
    return out
