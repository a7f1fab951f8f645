"""Pod predicates and orderings shared by the game workloads.

``deletion_key`` sorts pods so that the first ones are the best to delete (or to update first):
unassigned < assigned, Pending < Unknown < Running, not ready < ready, then the node deletion cost
(node annotation, ascending, missing last), then the pod deletion cost (ascending, or descending when
the workload says so; missing last), then shorter ready time, more restarts, newer. The two costs sit
before the time tie-breakers (as upstream's ``ActivePodsWithRanks`` does for the pod cost) so they
actually decide between otherwise equal pods.
"""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "NODE_DELETION_COST",
    "POD_DELETION_COST",
    "DELETION_COST_SORT",
    "INPLACE_READY",
    "condition",
    "is_ready",
    "is_terminating",
    "is_available",
    "ready_since",
    "deletion_key",
    "resolve_int_or_percent",
    "restarts",
]

NODE_DELETION_COST = "io.tencent.bcs.dev/node-deletion-cost"
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
DELETION_COST_SORT = "io.tencent.bcs.dev/pod-deletion-cost-sort-method"  # ascend | descend
INPLACE_READY = "InPlaceUpdateReady"
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


@functools.lru_cache(maxsize=65536)
def _parse_text(ts: str) -> datetime.datetime:
    # Each pass sorts every candidate by two timestamps that rarely change: parse each text once.
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _parse(ts: str | None) -> datetime.datetime | None:
    return _parse_text(ts) if ts else None


@functools.lru_cache(maxsize=65536)
def _seconds(ts: str) -> float:
    return _parse_text(ts).timestamp()


def condition(pod: Mapping[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_ready(pod: Mapping[str, Any]) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def ready_since(pod: Mapping[str, Any]) -> datetime.datetime | None:
    c = condition(pod, "Ready")
    return _parse(c.get("lastTransitionTime")) if c and c.get("status") == "True" else None


def is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime.datetime) -> bool:
    """Ready for at least ``min_ready_seconds``."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def restarts(pod: Mapping[str, Any]) -> int:
    return sum(
        int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses") or []
    )


def _cost(raw: str | None) -> float | None:
    try:
        return float(int(raw)) if raw is not None else None
    except ValueError:
        return None


def deletion_key(
    pod: Mapping[str, Any],
    *,
    node_costs: Mapping[str, float],
    descend: bool = False,
) -> tuple[Any, ...]:
    """Sort key: pods sorting first are deleted (or updated) first. ``node_costs``: node name -> cost."""
    meta, spec, st = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    node = spec.get("nodeName") or ""
    node_cost = node_costs.get(node, math.inf) if node else math.inf
    pod_cost = _cost((meta.get("annotations") or {}).get(POD_DELETION_COST))
    # A missing cost makes the worst candidate: such pods are deleted last.
    pod_rank = (1, 0.0) if pod_cost is None else (0, -pod_cost if descend else pod_cost)
    ready_cond = condition(pod, "Ready")
    ready = bool(ready_cond and ready_cond.get("status") == "True")
    since = (ready_cond or {}).get("lastTransitionTime") if ready else None
    ready_rank = -_seconds(since) if since else 0.0  # more recently ready first
    created = meta.get("creationTimestamp")
    return (
        1 if node else 0,
        _PHASE_RANK.get(st.get("phase") or "Pending", 1),
        1 if ready else 0,
        node_cost,
        pod_rank,
        ready_rank,
        -restarts(pod),
        -(_seconds(created) if created else 0.0),
    )


def resolve_int_or_percent(
    value: int | str | None, total: int, *, round_up: bool, default: int | str = 0
) -> int:
    """An IntOrString against ``total``: ``3`` -> 3, ``"20%"`` of 10 -> 2 (rounded up or down)."""
    if value is None:
        value = default
    if isinstance(value, int):
        return max(value, 0)
    text = str(value).strip()
    if text.endswith("%"):
        frac = float(text[:-1]) * total / 100.0
        return max(int(math.ceil(frac - 1e-9) if round_up else math.floor(frac + 1e-9)), 0)
    return max(int(text), 0)
