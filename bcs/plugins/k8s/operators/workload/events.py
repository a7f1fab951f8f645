"""Kubernetes Events about game workloads (core/v1 ``Event``); best effort, never fails a reconcile."""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from bcs import errors
from bcs.plugins.k8s.kube import client

__all__ = ["EVENTS", "Recorder"]

logger = logging.getLogger(__name__)

EVENTS = client.Resource("", "v1", "events", "Event")


class Recorder:
    """Records Events as ``component``; ``recorded`` keeps (reason, message) for metrics and tests."""

    def __init__(self, kube: client.KubeClient, component: str) -> None:
        self.kube = kube
        self.component = component
        self.recorded = 0

    async def record(
        self, obj: Mapping[str, Any], *, reason: str, message: str, warning: bool = False
    ) -> None:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "metadata": {"name": f"{meta.get('name')}.{secrets.token_hex(8)}", "namespace": ns},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta.get("name"),
                "namespace": ns,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        self.recorded += 1
        try:
            await self.kube.create(EVENTS, ns, body)
        except errors.BcsError as e:
            logger.warning("could not record event %s on %s/%s: %s", reason, ns, meta.get("name"), e)
