"""Fault injection: agents lost, back and gone; tasks failing, finishing or turning unhealthy; master
restarts.

Agent loss follows the partition path of a real master: every task there becomes TASK_UNREACHABLE
(TASK_LOST without PARTITION_AWARE) with REASON_AGENT_REMOVED, the agent's offers are rescinded and
every connected framework gets FAILURE{agent_id}. A master restart drops every stream (frameworks
must re-subscribe with their id), answers 503 until it has "recovered", and keeps all tasks.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from bcs.sim.mesos import agents, allocator, executor, wire

if TYPE_CHECKING:
    from bcs.sim.mesos import master as master_mod
    from bcs.sim.mesos import tasks

__all__ = [
    "fail_task",
    "finish_task",
    "lose_agent",
    "recover_agent",
    "remove_agent",
    "restart_master",
    "set_health",
]


def _tasks_on(master: master_mod.Master, agent: agents.Agent) -> list[tasks.Task]:
    out = []
    for fid, tid in sorted(agent.tasks):
        fw = master.frameworks.get(fid)
        if fw is not None and tid in fw.tasks:
            out.append(fw.tasks[tid])
    return out


def _rescind_and_announce(master: master_mod.Master, agent: agents.Agent) -> None:
    for offer in [o for o in master.offers.values() if o.agent_id == agent.id]:
        allocator.remove_offer(master, offer, rescind=True)
    for fw in master.frameworks.values():
        fw.send({"type": "FAILURE", "failure": {"agent_id": wire.ident(agent.id)}})


def lose_agent(master: master_mod.Master, key: str | int) -> agents.Agent:
    """The agent stops answering health checks and is marked unreachable."""
    agent = master.find_agent(key)
    if not agent.active:
        raise ValueError(f"agent {agent.id} is {agent.state}")
    agent.state = "unreachable"
    agent.unreachable_time = time.time()
    nanos = {"unreachable_time": {"nanoseconds": int(agent.unreachable_time * 1e9)}}
    for task in _tasks_on(master, agent):
        if task.terminal:
            continue
        fw = master.frameworks[task.framework_id]
        task.unreachable_time = agent.unreachable_time
        state = fw.lost_state("TASK_UNREACHABLE")
        task.status_update_state = state
        master.master_update(
            fw,
            task.task_id,
            state,
            reason="REASON_AGENT_REMOVED",
            message=f"Agent {agent.hostname} is unreachable: health check timed out",
            agent_id=agent.id,
            executor_id=task.executor_id,
            extra=nanos,
        )
    _rescind_and_announce(master, agent)
    master.kick()
    return agent


def recover_agent(master: master_mod.Master, key: str | int) -> agents.Agent:
    """An unreachable agent re-registers: its tasks come back in their current state."""
    agent = master.find_agent(key)
    if agent.state != "unreachable":
        raise ValueError(f"agent {agent.id} is {agent.state}, not unreachable")
    agent.state = "active"
    agent.unreachable_time = None
    for task in _tasks_on(master, agent):
        if task.unreachable_time is None:
            continue
        fw = master.frameworks[task.framework_id]
        task.unreachable_time = None
        task.status_update_state = task.state
        master.master_update(
            fw,
            task.task_id,
            task.state,
            reason="REASON_AGENT_REREGISTERED",
            message="Unreachable agent re-reregistered",
            agent_id=agent.id,
            executor_id=task.executor_id,
        )
        master.updates.resend(task)
        if task.kill_pending:
            task.kill_pending = False
            executor.kill(master, task)
    master.kick()
    return agent


def remove_agent(master: master_mod.Master, key: str | int) -> agents.Agent:
    """The operator marks the agent gone: its tasks end TASK_GONE_BY_OPERATOR (TASK_LOST)."""
    agent = master.find_agent(key)
    if agent.state == "gone":
        raise ValueError(f"agent {agent.id} is already gone")
    was_active = agent.active
    agent.state = "gone"
    for task in _tasks_on(master, agent):
        fw = master.frameworks[task.framework_id]
        task.cancel_timers()
        master.updates.drop(task)
        pa = fw.partition_aware
        state = "TASK_GONE_BY_OPERATOR" if pa else "TASK_LOST"
        reason = "REASON_AGENT_REMOVED_BY_OPERATOR" if pa else "REASON_AGENT_REMOVED"
        if not task.terminal:
            master.master_update(
                fw,
                task.task_id,
                state,
                reason=reason,
                message=f"Agent {agent.hostname} was marked gone by the operator",
                agent_id=agent.id,
                executor_id=task.executor_id,
            )
            task.state = task.status_update_state = state
            master.release(task, notify=False)
        master.completed(task)
    agent.executors.clear()
    if was_active:
        _rescind_and_announce(master, agent)
    master.kick()
    return agent


def _live_task(master: master_mod.Master, task_id: str, framework_id: str | None) -> tasks.Task:
    task = master.find_task(task_id, framework_id)
    if task.terminal:
        raise ValueError(f"task {task_id} is already {task.state}")
    if not master.agents[task.agent_id].active:
        raise ValueError(f"task {task_id} is on an agent that is not reachable")
    return task


def fail_task(
    master: master_mod.Master, task_id: str, *, message: str | None = None, framework_id: str | None = None
) -> tasks.Task:
    """The task's process fails: TASK_FAILED from its executor (a group kills its other tasks)."""
    task = _live_task(master, task_id, framework_id)
    task.stop_lifecycle()
    executor.exit_task(master, task, 1, message)
    return task


def finish_task(master: master_mod.Master, task_id: str, *, framework_id: str | None = None) -> tasks.Task:
    """The task's process exits 0: TASK_FINISHED."""
    task = _live_task(master, task_id, framework_id)
    task.stop_lifecycle()
    executor.exit_task(master, task, 0, None)
    return task


def set_health(
    master: master_mod.Master, task_id: str, healthy: bool, *, framework_id: str | None = None
) -> tasks.Task:
    """What the task's health check finds from its next check on (see :mod:`.health`)."""
    task = _live_task(master, task_id, framework_id)
    if not isinstance(task.info.get("health_check"), dict):
        raise ValueError(f"task {task_id} has no health check")
    task.health_ok = healthy
    return task


def restart_master(master: master_mod.Master, downtime: float = 0.5) -> None:
    """Crash and re-elect the master: streams drop, calls get 503 for ``downtime`` seconds, then
    frameworks re-subscribe with their ids and find their tasks (and unacked updates) intact."""
    master.recovering = True
    master.master_id = wire.stream_id(master.rng)  # a new leader with a new id
    for fw in master.frameworks.values():
        if fw.failover_handle is not None:  # failover timeouts do not survive a master failover
            fw.failover_handle.cancel()
            fw.failover_handle = None
        if fw.subscription is not None:
            fw.subscription.close(abort=True)
            fw.subscription = None
        fw.active = False
        fw.recovered = True
        for offer in list(fw.offers.values()):
            allocator.remove_offer(master, offer)
    if master.restart_handle is not None:
        master.restart_handle.cancel()
    loop = asyncio.get_running_loop()
    master.restart_handle = loop.call_later(downtime, _recovered, master)


def _recovered(master: master_mod.Master) -> None:
    master.restart_handle = None
    master.recovering = False
    master.elected_time = time.time()
    master.kick()
