"""Kubernetes Events on HookRuns (core/v1 ``Event``), one per phase change.

Recording is best effort: a failure is logged and never fails the reconcile.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from bcs import errors
from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.hook import model

__all__ = ["EVENTS", "COMPONENT", "record"]

logger = logging.getLogger(__name__)

EVENTS = client.Resource("", "v1", "events", "Event")
COMPONENT = "bcs-hook-operator"


async def record(
    kube: client.KubeClient, obj: Mapping[str, Any], *, reason: str, message: str, warning: bool = False
) -> dict[str, Any] | None:
    """Create an Event about ``obj``; returns it, or None when the API refused it."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    stamp = model.format_time(model.now())
    body = {
        "metadata": {"name": f"{meta.get('name')}.{secrets.token_hex(8)}", "namespace": ns},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion") or model.HOOKRUNS.api_version,
            "kind": obj.get("kind") or model.HOOKRUNS.kind,
            "name": meta.get("name"),
            "namespace": ns,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp[:19] + "Z",
        "lastTimestamp": stamp[:19] + "Z",
        "count": 1,
    }
    try:
        return await kube.create(EVENTS, ns, body)
    except errors.BcsError as e:
        logger.warning("could not record event %s on %s/%s: %s", reason, ns, meta.get("name"), e)
        return None
