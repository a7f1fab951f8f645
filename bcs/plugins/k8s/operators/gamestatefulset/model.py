"""GameStatefulSet constants, pod identity and spec defaulting (bk-bcs §5.2)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamedeployment import model as gd_model
from bcs.plugins.k8s.operators.hook import model as hook_model

__all__ = [
    "GAMESTATEFULSETS",
    "PVCS",
    "ON_DELETE",
    "ORDERED_READY",
    "PARALLEL",
    "POD_NAME_LABEL",
    "POD_ORDINAL_LABEL",
    "with_defaults",
    "ordinal_of",
    "claim_name",
    "claim",
]

GAMESTATEFULSETS = client.Resource(
    hook_model.GROUP, hook_model.VERSION, "gamestatefulsets", "GameStatefulSet"
)
PVCS = client.Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
ON_DELETE, ORDERED_READY, PARALLEL = "OnDelete", "OrderedReady", "Parallel"
POD_NAME_LABEL = "gamestatefulset.kubernetes.io/pod-name"
POD_ORDINAL_LABEL = "gamestatefulset.kubernetes.io/pod-ordinal"


def with_defaults(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy with bk-bcs' GameStatefulSet defaults filled in."""
    out, strategy = gd_model.common_defaults(obj)
    spec = out["spec"]
    spec.setdefault("podManagementPolicy", ORDERED_READY)
    spec.setdefault("volumeClaimTemplates", [])
    strategy.setdefault("type", ON_DELETE)
    ru = strategy.setdefault("rollingUpdate", {})
    ru.setdefault("partition", 0)
    ru.setdefault("maxUnavailable", "25%")
    ru.setdefault("maxSurge", 0)
    return out


def ordinal_of(pod: Mapping[str, Any]) -> int | None:
    meta = pod.get("metadata") or {}
    raw = (meta.get("labels") or {}).get(POD_ORDINAL_LABEL) or str(meta.get("name", "")).rsplit("-", 1)[-1]
    return int(raw) if raw.isdigit() else None


def claim_name(template: Mapping[str, Any], pod_name: str) -> str:
    return f"{(template.get('metadata') or {}).get('name')}-{pod_name}"


def claim(
    template: Mapping[str, Any], *, pod_name: str, namespace: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The PVC of ``template`` for ``pod_name`` (kept when the pod goes: no owner reference)."""
    tmeta = template.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": claim_name(template, pod_name),
            "namespace": namespace,
            "labels": {**(tmeta.get("labels") or {}), **labels},
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
