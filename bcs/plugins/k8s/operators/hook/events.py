"""Kubernetes Events on HookRuns (core/v1 ``Event``), one per phase change.

Recording is best effort: a failure is logged and never fails the reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import base
from bcs.plugins.k8s.operators.hook import model

__all__ = ["EVENTS", "COMPONENT", "record"]

logger = logging.getLogger(__name__)

EVENTS = base.EVENTS
COMPONENT = "bcs-hook-operator"


async def record(
    kube: client.KubeClient, obj: Mapping[str, Any], *, reason: str, message: str, warning: bool = False
) -> dict[str, Any] | None:
    """Create an Event about ``obj``; returns it, or None when the API refused it."""
    body = base.event(
        obj, reason=reason, message=message, component=COMPONENT, warning=warning, resource=model.HOOKRUNS
    )
    return await base.create_event(kube, body, log=logger)
