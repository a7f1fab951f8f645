"""The agent and executor side of a task: STARTING → RUNNING, exits, kills and executor exit.

Every update made here comes from the agent or an executor, so it carries a fresh uuid and goes
through the reliable-update queue. Conventions of the simulated executor: a command ``exit N``
ends right after RUNNING (FINISHED for 0, FAILED otherwise); anything else runs until it is killed
or a fault is injected, its ``health_check`` (if any) checked meanwhile (:mod:`.health`). A task
group shares fate: when one task FAILS or is KILLED the default executor kills the rest, and when
no task is left it exits (a FAILURE event with its executor id).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from bcs.sim.mesos import health, wire

if TYPE_CHECKING:
    from bcs.sim.mesos import master as master_mod
    from bcs.sim.mesos import tasks

__all__ = ["agent_update", "exit_task", "kill", "launch"]

_EXIT = re.compile(r"^\s*exit\s+(\d+)\s*$")


def _later(delay: float, fn: Any, *args: Any) -> asyncio.TimerHandle:
    return asyncio.get_running_loop().call_later(delay, fn, *args)


def agent_update(
    master: master_mod.Master,
    task: tasks.Task,
    state: str,
    *,
    source: str = "SOURCE_EXECUTOR",
    message: str | None = None,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Record a new agent-side state and queue its reliable update; frees resources when terminal."""
    if task.terminal:
        return
    status = wire.task_status(
        task.task_id,
        state,
        source=source,
        agent_id=task.agent_id,
        executor_id=task.executor_id,
        message=message,
        reason=reason,
        uuid=wire.new_uuid(master.rng),
        extra=extra,
    )
    task.state = state
    task.record(status)
    if state in wire.TERMINAL_STATES:
        task.stop_lifecycle()
        master.release(task)
    master.updates.enqueue(task, status)
    if state in ("TASK_FAILED", "TASK_KILLED") and task.group_executor is not None:
        _kill_siblings(master, task)


def launch(master: master_mod.Master, task: tasks.Task) -> None:
    """The task has been sent to its agent; it reaches the executor after ``launch_delay``."""
    task.timer = _later(master.launch_delay, _starting, master, task)


def _starting(master: master_mod.Master, task: tasks.Task) -> None:
    task.timer = None
    agent_update(master, task, "TASK_STARTING")
    task.timer = _later(master.running_delay, _running, master, task)


def _container_status(master: master_mod.Master, task: tasks.Task) -> dict[str, Any]:
    agent = master.agents[task.agent_id]
    cid: dict[str, Any] = {"value": task.container_id}
    if task.group_executor is not None:
        cid["parent"] = {"value": f"{task.framework_id}-{task.executor_id}-container"}
    network = [{"ip_addresses": [{"protocol": "IPv4", "ip_address": agent.ip}]}]
    return {"container_status": {"container_id": cid, "network_infos": network}}


def _running(master: master_mod.Master, task: tasks.Task) -> None:
    task.timer = None
    agent_update(master, task, "TASK_RUNNING", extra=_container_status(master, task))
    command = task.info.get("command") or {}
    match = _EXIT.match(str(command.get("value") or "")) if command.get("shell", True) else None
    if match:
        code = int(match.group(1))
        task.timer = _later(master.running_delay, exit_task, master, task, code, None)
    else:
        health.start(master, task)


def exit_task(master: master_mod.Master, task: tasks.Task, code: int, message: str | None) -> None:
    """The task's process exits with ``code``: FINISHED for 0, FAILED otherwise."""
    task.timer = None
    state = "TASK_FINISHED" if code == 0 else "TASK_FAILED"
    agent_update(master, task, state, message=message or f"Command exited with status {code}")


def _group(master: master_mod.Master, task: tasks.Task) -> list[tasks.Task]:
    key = task.group_executor
    if key is None:
        return [task]
    executor = master.agents[task.agent_id].executors.get(key)
    ids = executor.tasks if executor is not None else {task.task_id}
    fw = master.frameworks[task.framework_id]
    return [fw.tasks[i] for i in sorted(ids) if i in fw.tasks]


def kill(master: master_mod.Master, task: tasks.Task) -> None:
    """Kill a task (and, in a task group, the whole group)."""
    for member in _group(master, task):
        if member.terminal:
            continue
        if member.state == "TASK_STAGING":
            # Not yet at the executor: the agent drops it.
            if member.timer is not None:
                member.timer.cancel()
                member.timer = None
            agent_update(
                master,
                member,
                "TASK_KILLED",
                source="SOURCE_AGENT",
                reason="REASON_TASK_KILLED_DURING_LAUNCH",
                message="Killed before delivery to the executor",
            )
        elif member.state != "TASK_KILLING":
            _start_kill(master, member)


def _start_kill(master: master_mod.Master, task: tasks.Task) -> None:
    if task.timer is not None:
        task.timer.cancel()
    if "TASK_KILLING_STATE" in master.frameworks[task.framework_id].capabilities:
        agent_update(master, task, "TASK_KILLING")
    task.timer = _later(master.kill_delay, _killed, master, task)


def _killed(master: master_mod.Master, task: tasks.Task) -> None:
    task.timer = None
    agent_update(master, task, "TASK_KILLED", message="Command terminated with signal Terminated")


def _kill_siblings(master: master_mod.Master, task: tasks.Task) -> None:
    for member in _group(master, task):
        if member is not task and not member.terminal and member.state != "TASK_KILLING":
            if member.state == "TASK_STAGING":
                kill(master, member)
            else:
                _start_kill(master, member)
