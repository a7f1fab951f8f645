"""Health checks of the simulated executor: the ``health_check`` of a TaskInfo, on Mesos' timing.

Nothing is probed (the simulated tasks run nothing): a check passes unless fault injection says the
task is unhealthy (``MesosSim.set_health(task_id, False)``). The timing is Mesos': the first check
``delay_seconds`` after the task is RUNNING, then every ``interval_seconds``; failures within
``grace_period_seconds`` of the start are ignored until a check first succeeds. A status update
(TASK_RUNNING, ``healthy``, REASON_TASK_HEALTH_CHECK_STATUS_UPDATED) goes out for the first result
and every change; after ``consecutive_failures`` failures in a row (0: never) the executor kills the
task, TASK_KILLED with ``healthy: false`` (a task group loses its other tasks with it).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from bcs.sim.mesos import executor

if TYPE_CHECKING:
    from bcs.sim.mesos import master as master_mod
    from bcs.sim.mesos import tasks

__all__ = ["REASON", "start"]

REASON = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"


def _seconds(check: dict[str, Any], key: str, default: float) -> float:
    value = check.get(key)
    return float(value) if isinstance(value, int | float) and value >= 0 else default


def start(master: master_mod.Master, task: tasks.Task) -> None:
    """Begin checking a task that just became RUNNING (if its TaskInfo has a health check)."""
    check = task.info.get("health_check")
    if not isinstance(check, dict):
        return
    task.health_started = time.monotonic()
    delay = _seconds(check, "delay_seconds", 15.0)
    task.health_handle = asyncio.get_running_loop().call_later(delay, _check, master, task)


def _check(master: master_mod.Master, task: tasks.Task) -> None:
    task.health_handle = None
    if task.terminal or task.state != "TASK_RUNNING":
        return
    check = task.info["health_check"]
    passed = task.health_ok
    task.health_checks += 1
    in_grace = not task.health_passed and time.monotonic() - task.health_started < _seconds(
        check, "grace_period_seconds", 10.0
    )
    if passed:
        task.health_passed = True
        task.health_failures = 0
    elif not in_grace:
        task.health_failures += 1
    if passed != task.healthy and (passed or not in_grace):
        task.healthy = passed
        message = "Task is healthy" if passed else f"Health check failed {task.health_failures} time(s)"
        executor.agent_update(
            master, task, "TASK_RUNNING", message=message, reason=REASON, extra={"healthy": passed}
        )
    limit = int(_seconds(check, "consecutive_failures", 3))
    if limit and task.health_failures >= limit:
        executor.agent_update(
            master,
            task,
            "TASK_KILLED",
            message=f"Task is unhealthy: {task.health_failures} consecutive health check failures",
            reason=REASON,
            extra={"healthy": False},
        )
        return
    interval = _seconds(check, "interval_seconds", 10.0) or 10.0
    task.health_handle = asyncio.get_running_loop().call_later(interval, _check, master, task)
