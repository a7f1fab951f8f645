"""Kubernetes Events about game workloads (core/v1 ``Event``); best effort, never fails a reconcile.

:meth:`Recorder.record` only queues the Event; :meth:`Recorder.run` (a task of the controller) posts
the queue in order. A reconcile therefore never waits for Event round trips (a 200-pod wave records
200 of them), and an API that refuses Events costs a log line, not a slower rollout. When the queue is
full (the API is far behind) further Events are dropped and counted in ``dropped``.
"""

from __future__ import annotations

import asyncio
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
    """Records Events as ``component``; ``recorded`` counts the Events asked for."""

    def __init__(self, kube: client.KubeClient, component: str, *, backlog: int = 10_000) -> None:
        self.kube = kube
        self.component = component
        self.recorded = 0
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=backlog)

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
            self._queue.put_nowait((ns, body))
        except asyncio.QueueFull:
            self.dropped += 1

    def pending(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        """Post queued Events until cancelled."""
        while True:
            ns, body = await self._queue.get()
            try:
                await self.kube.create(EVENTS, ns, body)
            except errors.BcsError as e:
                logger.warning(
                    "could not record event %s on %s/%s: %s",
                    body["reason"],
                    ns,
                    body["involvedObject"]["name"],
                    e,
                )
