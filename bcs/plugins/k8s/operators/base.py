"""What every operator controller shares: work-queue workers around ``reconcile``, and Events.

:class:`Controller` runs a controller's background tasks (informers, an Event recorder) plus
``workers`` workers. A worker takes a key from the queue and calls :meth:`Controller.reconcile`, which
returns the seconds until the key needs another look (or None). The result is counted on
``metrics.reconciles`` (``ok``, ``conflict``, ``error``): a Conflict or an error requeues the key
rate-limited, success resets its backoff and requeues it after the returned delay.

:func:`event` builds a core/v1 ``Event`` about an object; :func:`create_event` posts one, best effort
(a refusal is logged and never fails a reconcile).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from bcs import errors
from bcs.plugins.k8s.kube import client, workqueue

__all__ = ["EVENTS", "Controller", "create_event", "event"]

logger = logging.getLogger(__name__)

EVENTS = client.Resource("", "v1", "events", "Event")


class Controller:
    """Workers over ``queue``; a subclass sets ``resource``, ``queue``, ``workers`` and ``metrics`` (whose
    ``reconciles`` counts reconciles by result) and implements :meth:`reconcile`. ``log`` is the logger
    failed reconciles are reported on (the subclass's own)."""

    resource: client.Resource
    queue: workqueue.WorkQueue
    workers: int
    metrics: Any
    log: logging.Logger = logger

    async def reconcile(self, key: str) -> float | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def observe(self, seconds: float) -> None:
        """Record the wall time of one reconcile (not recorded unless a subclass does)."""

    async def run_workers(
        self,
        background: Mapping[str, Coroutine[Any, Any, Any]],
        *,
        label: str,
        ready: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """Run ``background`` (task name -> coroutine) and, once ``ready()`` is done, the workers
        (``<label> worker <n>``) until cancelled or one of them fails; then shut the queue down and
        cancel them all."""
        tasks = [asyncio.create_task(coro, name=name) for name, coro in background.items()]
        try:
            if ready is not None:
                await ready()
            tasks += [
                asyncio.create_task(self._worker(), name=f"{label} worker {n}") for n in range(self.workers)
            ]
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except workqueue.ShutDown:
                return
            t0 = time.monotonic()
            try:
                delay = await self.reconcile(str(key))
            except errors.Conflict:
                self.metrics.reconciles.labels("conflict").inc()
                self.queue.add_rate_limited(key)  # the informer brings the newer object meanwhile
            except Exception:
                self.metrics.reconciles.labels("error").inc()
                self.log.exception("reconciling %s %s failed", self.resource.kind, key)
                self.queue.add_rate_limited(key)
            else:
                self.metrics.reconciles.labels("ok").inc()
                self.queue.forget(key)
                if delay is not None:
                    self.queue.add_after(key, delay)
            finally:
                self.observe(time.monotonic() - t0)
                self.queue.done(key)


def event(
    obj: Mapping[str, Any],
    *,
    reason: str,
    message: str,
    component: str,
    warning: bool = False,
    resource: client.Resource | None = None,
) -> dict[str, Any]:
    """An Event about ``obj`` reported by ``component``; ``resource`` gives the involved object's
    apiVersion and kind when ``obj`` lacks them."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": f"{meta.get('name')}.{secrets.token_hex(8)}", "namespace": ns},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion") or (resource.api_version if resource else None),
            "kind": obj.get("kind") or (resource.kind if resource else None),
            "name": meta.get("name"),
            "namespace": ns,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": {"component": component},
        "reportingComponent": component,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def create_event(
    kube: client.KubeClient, body: dict[str, Any], *, log: logging.Logger = logger
) -> dict[str, Any] | None:
    """Post ``body`` (from :func:`event`); returns the Event, or None (logged on ``log``) when refused."""
    ns = body["metadata"]["namespace"]
    try:
        return await kube.create(EVENTS, ns, body)
    except errors.BcsError as e:
        log.warning(
            "could not record event %s on %s/%s: %s", body["reason"], ns, body["involvedObject"]["name"], e
        )
        return None
