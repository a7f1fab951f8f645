"""Lease-based leader election (``coordination.k8s.io/v1`` Lease), after client-go's leaderelection.

Each replica runs :meth:`LeaderElector.run`. It tries to acquire the Lease every ``retry_period``
seconds; a Lease held by someone else counts as taken until ``lease_duration`` seconds have passed on
*our* clock since we last saw its record change (so clock skew between replicas does not matter).
Once acquired, the ``lead`` coroutine factory is started and the Lease renewed every ``retry_period``;
if renewing keeps failing for ``renew_deadline`` seconds, leadership is lost: the lead task is cancelled
and the elector goes back to acquiring. Cancelling :meth:`run` cancels the lead task and, with
``release_on_cancel``, empties the holder so another replica takes over at its next retry.

Writes use the Lease's resourceVersion, so two replicas racing for an expired Lease cannot both win.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bcs import errors
from bcs.core import tasks
from bcs.plugins.k8s.kube import client

__all__ = ["LEASES", "LeaderElector"]

logger = logging.getLogger(__name__)

LEASES = client.Resource("coordination.k8s.io", "v1", "leases", "Lease")


def _micro_now() -> str:
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate for the Lease ``namespace/name``; see the module docstring."""

    def __init__(
        self,
        kube: client.KubeClient,
        *,
        name: str,
        namespace: str,
        identity: str,
        lead: Callable[[], Coroutine[Any, Any, Any]],
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        release_on_cancel: bool = True,
    ) -> None:
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.kube = kube
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lead = lead
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self.is_leader = False
        self.observed_holder = ""  # holderIdentity in the last Lease we read
        self.transitions = 0  # times this elector became leader
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0  # monotonic time the observed spec last changed

    async def run(self) -> None:
        """Acquire, lead, renew; on loss start over. Runs until cancelled."""
        try:
            while True:
                await self._acquire()
                await self._lead_and_renew()
        finally:
            if self.is_leader and self.release_on_cancel:
                with contextlib.suppress(errors.BcsError, asyncio.CancelledError):
                    await asyncio.shield(self._release())
            self.is_leader = False

    async def _acquire(self) -> None:
        # Polling is the protocol here: the Lease lives in the API server, not in this process.
        while not await self._try_acquire_or_renew():  # noqa: ASYNC110
            await asyncio.sleep(self.retry_period * (1 + 0.2 * random.random()))
        self.is_leader = True
        self.transitions += 1
        logger.info("%s became leader of lease %s/%s", self.identity, self.namespace, self.name)

    async def _lead_and_renew(self) -> None:
        task = asyncio.create_task(self.lead(), name=f"leader {self.namespace}/{self.name}")
        try:
            while True:
                await asyncio.sleep(self.retry_period)
                if task.done():
                    # The leader's work ended on its own: give the Lease up so others can lead.
                    with contextlib.suppress(BaseException):
                        task.result()
                    await self._release()
                    self.is_leader = False
                    await asyncio.sleep(self.retry_period)
                    return
                if not await self._renew_within_deadline():
                    logger.warning("%s lost lease %s/%s", self.identity, self.namespace, self.name)
                    self.is_leader = False
                    return
        finally:
            await tasks.cancel_and_wait(task)

    async def _renew_within_deadline(self) -> bool:
        deadline = time.monotonic() + self.renew_deadline
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.01)):
                    if await self._try_acquire_or_renew():
                        return True
            except TimeoutError:
                return False
            await asyncio.sleep(min(self.retry_period / 4, max(deadline - time.monotonic(), 0)))
        return False

    async def _try_acquire_or_renew(self) -> bool:
        now = _micro_now()
        mine = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        }
        try:
            lease = await self.kube.get(LEASES, self.namespace, self.name)
        except errors.NotFound:
            body = {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": mine}
            try:
                await self.kube.create(LEASES, self.namespace, body)
            except errors.BcsError as e:
                logger.debug("creating lease %s/%s failed: %s", self.namespace, self.name, e)
                return False
            self._observe(mine)
            return True
        except errors.BcsError as e:
            logger.debug("reading lease %s/%s failed: %s", self.namespace, self.name, e)
            return False
        spec = lease.get("spec") or {}
        self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and time.monotonic() < self._observed_at + self._duration(spec):
            return False
        if holder == self.identity:
            mine["acquireTime"] = spec.get("acquireTime") or now
            mine["leaseTransitions"] = spec.get("leaseTransitions") or 0
        else:
            mine["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        lease["spec"] = mine
        try:
            await self.kube.replace(LEASES, self.namespace, self.name, lease)
        except errors.BcsError as e:  # Conflict: someone else wrote first
            logger.debug("updating lease %s/%s failed: %s", self.namespace, self.name, e)
            return False
        self._observe(mine)
        return True

    def _duration(self, spec: dict[str, Any]) -> float:
        return float(spec.get("leaseDurationSeconds") or self.lease_duration)

    def _observe(self, spec: dict[str, Any]) -> None:
        if spec != self._observed_spec:
            self._observed_spec = dict(spec)
            self._observed_at = time.monotonic()
        self.observed_holder = spec.get("holderIdentity") or ""

    async def _release(self) -> None:
        """Empty the holder (keeping the record otherwise) so the next candidate need not wait."""
        lease = await self.kube.get(LEASES, self.namespace, self.name)
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return
        now = _micro_now()
        lease["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": now}
        await self.kube.replace(LEASES, self.namespace, self.name, lease)
        logger.info("%s released lease %s/%s", self.identity, self.namespace, self.name)
