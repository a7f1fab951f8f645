"""The essential built-in plugin: fallbacks every installation needs, implemented as hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bcs

if TYPE_CHECKING:
    from bcs.core.registry import Cluster

__all__ = ["bcs_backend_for_cluster"]


@bcs.hookimpl(trylast=True)
def bcs_backend_for_cluster(cluster: Cluster) -> str | None:
    """Fallback: the backend named like the cluster's engine type (``k8s``, ``mesos``)."""
    return cluster.engineType or None
