"""Kubernetes Events about game workloads (core/v1 ``Event``); best effort, never fails a reconcile.

:meth:`Recorder.record` only queues the Event; :meth:`Recorder.run` (a task of the controller) posts
the queue in order. A reconcile therefore never waits for Event round trips (a 200-pod wave records
200 of them), and an API that refuses Events costs a log line, not a slower rollout. When the queue is
full (the API is far behind) further Events are dropped and counted in ``dropped``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import base

__all__ = ["Recorder"]

logger = logging.getLogger(__name__)


class Recorder:
    """Records Events as ``component``; ``recorded`` counts the Events asked for."""

    def __init__(self, kube: client.KubeClient, component: str, *, backlog: int = 10_000) -> None:
        self.kube = kube
        self.component = component
        self.recorded = 0
        self.dropped = 0
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=backlog)

    async def record(
        self, obj: Mapping[str, Any], *, reason: str, message: str, warning: bool = False
    ) -> None:
        body = base.event(obj, reason=reason, message=message, component=self.component, warning=warning)
        self.recorded += 1
        try:
            self._queue.put_nowait(body)
        except asyncio.QueueFull:
            self.dropped += 1

    def pending(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        """Post queued Events until cancelled."""
        while True:
            await base.create_event(self.kube, await self._queue.get(), log=logger)
