"""GameDeployment constants, labels/annotations and spec defaulting (bk-bcs §5.1).

Defaults are applied in code on every reconcile as well as by the CRD schema, so objects written before
the CRD carried defaults (or on a server that does not default) behave the same.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.hook import model as hook_model

__all__ = [
    "GAMEDEPLOYMENTS",
    "ROLLING",
    "INPLACE",
    "HOTPATCH",
    "INSTANCE_ID_LABEL",
    "INDEX_ON_ANNOTATION",
    "INDEX_RANGE_ANNOTATION",
    "INDEX_ID_LABEL",
    "DELETING_ANNOTATION",
    "with_defaults",
    "common_defaults",
    "new_instance_id",
    "random_suffix",
]

GAMEDEPLOYMENTS = client.Resource(hook_model.GROUP, hook_model.VERSION, "gamedeployments", "GameDeployment")
ROLLING, INPLACE, HOTPATCH = "RollingUpdate", "InplaceUpdate", "HotPatchUpdate"
INSTANCE_ID_LABEL = "tkex.bkbcs.tencent.com/gamedeployment-instance-id"
INDEX_ON_ANNOTATION = "tkex.bkbcs.tencent.com/gamedeployment-index-on"
INDEX_RANGE_ANNOTATION = "tkex.bkbcs.tencent.com/gamedeployment-index-range"
INDEX_ID_LABEL = "tkex.bkbcs.tencent.com/gamedeployment-index-id"
DELETING_ANNOTATION = "io.tencent.bcs.dev/game-pod-deleting"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def new_instance_id(taken: set[str]) -> str:
    while True:
        candidate = random_suffix(5)
        if candidate not in taken:
            return candidate


def common_defaults(obj: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A deep copy of a game workload (either kind) with the defaults both kinds share filled in, and
    its ``updateStrategy`` (for the kind's own defaults)."""
    out = copy.deepcopy(dict(obj))
    spec = out.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("minReadySeconds", 0)
    spec.setdefault("scaleStrategy", {}).setdefault("podsToDelete", [])
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("paused", False)
    strategy.setdefault("inPlaceUpdateStrategy", {}).setdefault("gracePeriodSeconds", 0)
    return out, strategy


def with_defaults(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the GameDeployment with bk-bcs' defaults filled in."""
    out, strategy = common_defaults(obj)
    strategy.setdefault("type", ROLLING)
    strategy.setdefault("partition", 0)
    strategy.setdefault("maxUnavailable", "20%")
    strategy.setdefault("maxSurge", 0)
    return out
