"""Tasks as the master tracks them, and the agent's status-update manager (reliable updates).

Each update from an agent or executor carries a fresh uuid and waits in its task's queue. One update
per task is in flight; the next goes out only after the scheduler ACKNOWLEDGEs the head. An unacked
head is resent with backoff (``retry_interval``, doubling up to ``retry_max``) and again whenever the
framework re-subscribes. The master keeps a task until its terminal update is acknowledged.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from typing import Any

import attrs

from bcs.sim.mesos import resources, wire

__all__ = ["Task", "UpdateManager"]


@attrs.define(eq=False)
class Task:
    framework_id: str
    task_id: str
    name: str
    agent_id: str
    executor_id: str  # equals task_id for command tasks
    executor_kind: str  # COMMAND | DEFAULT | CUSTOM
    resources: resources.Resources
    info: dict[str, Any]
    role: str = "*"
    state: str = "TASK_STAGING"  # the agent's latest state (the master's bookkeeping)
    status_update_state: str | None = None  # the last state sent to the scheduler
    statuses: list[dict[str, Any]] = attrs.field(factory=list)
    pending: collections.deque[dict[str, Any]] = attrs.field(factory=collections.deque)
    retry_handle: asyncio.TimerHandle | None = None
    retry_delay: float = 0.0
    timer: asyncio.TimerHandle | None = None  # the next lifecycle step on the simulated agent
    unreachable_time: float | None = None
    kill_pending: bool = False
    released: bool = False  # its resources went back to the agent
    launched_at: float = attrs.field(factory=time.time)  # wall time the master accepted it
    health_ok: bool = True  # what its health check finds (fault injection flips it)
    healthy: bool | None = None  # the health last reported to the scheduler
    health_checks: int = 0  # checks run so far
    health_failures: int = 0  # consecutive failures that counted
    health_passed: bool = False  # a check has passed (the grace period is over)
    health_started: float = 0.0  # monotonic time checking began
    health_handle: asyncio.TimerHandle | None = None
    released_at: float | None = None  # wall time its resources went back (None: still held)
    container_id: str = ""
    ip: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.framework_id, self.task_id)

    @property
    def terminal(self) -> bool:
        return self.state in wire.TERMINAL_STATES

    @property
    def live(self) -> bool:
        """Holding resources on its agent: not terminal and not cut off by a partition."""
        return not self.terminal and self.unreachable_time is None

    @property
    def group_executor(self) -> tuple[str, str] | None:
        if self.executor_kind == "COMMAND":
            return None
        return (self.framework_id, self.executor_id)

    def stop_lifecycle(self) -> None:
        for handle in (self.timer, self.health_handle):
            if handle is not None:
                handle.cancel()
        self.timer = self.health_handle = None

    def cancel_timers(self) -> None:
        self.stop_lifecycle()
        if self.retry_handle is not None:
            self.retry_handle.cancel()
            self.retry_handle = None

    def record(self, status: dict[str, Any]) -> None:
        """Remember a state in the master's ``statuses`` list (as ``/master/state`` shows it)."""
        entry: dict[str, Any] = {"state": status["state"], "timestamp": status["timestamp"]}
        for key in ("container_status", "healthy"):
            if key in status:
                entry[key] = status[key]
        self.statuses.append(entry)


class UpdateManager:
    """Per-task queues of unacknowledged agent updates, delivered one at a time with retries."""

    def __init__(
        self,
        *,
        deliver: Callable[[Task, dict[str, Any]], bool],
        completed: Callable[[Task], None],
        retry_interval: float = 10.0,
        retry_max: float = 600.0,
    ) -> None:
        self._deliver = deliver
        self._completed = completed
        self.retry_interval = retry_interval
        self.retry_max = retry_max

    def enqueue(self, task: Task, status: dict[str, Any]) -> None:
        task.pending.append(status)
        if len(task.pending) == 1:
            task.retry_delay = self.retry_interval
            self._send_head(task)

    def acknowledge(self, task: Task, uuid: str) -> bool:
        """Drop the head if ``uuid`` matches it; a stale or unknown uuid is ignored (still 202)."""
        if not task.pending or task.pending[0].get("uuid") != uuid:
            return False
        head = task.pending.popleft()
        if task.retry_handle is not None:
            task.retry_handle.cancel()
            task.retry_handle = None
        if head["state"] in wire.TERMINAL_STATES and not task.pending:
            self._completed(task)
        elif task.pending:
            task.retry_delay = self.retry_interval
            self._send_head(task)
        return True

    def resend(self, task: Task) -> None:
        """Resend the head now (framework failover or agent re-registration), resetting the backoff."""
        if task.pending:
            task.retry_delay = self.retry_interval
            self._send_head(task)

    def drop(self, task: Task) -> None:
        task.pending.clear()
        if task.retry_handle is not None:
            task.retry_handle.cancel()
            task.retry_handle = None

    def _send_head(self, task: Task) -> None:
        if task.retry_handle is not None:
            task.retry_handle.cancel()
        head = task.pending[0]
        if self._deliver(task, head):
            task.status_update_state = head["state"]
        loop = asyncio.get_running_loop()
        task.retry_handle = loop.call_later(task.retry_delay, self._retry, task)

    def _retry(self, task: Task) -> None:
        task.retry_handle = None
        if task.pending:
            task.retry_delay = min(task.retry_delay * 2, self.retry_max)
            self._send_head(task)
