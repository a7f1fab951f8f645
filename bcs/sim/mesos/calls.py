"""Scheduler calls other than SUBSCRIBE, applied to the master once the HTTP checks have passed.

Every handler here answers 202 whatever happens next: unknown offers, tasks or roles are ignored or
answered with events (a KILL for an unknown task gets a reconciliation answer). Reconciliation
answers come from the master (SOURCE_MASTER, REASON_RECONCILIATION, no uuid); frameworks without
PARTITION_AWARE get TASK_LOST where the others see TASK_GONE, TASK_UNREACHABLE or TASK_UNKNOWN.
The simulated executors echo every framework MESSAGE back as a MESSAGE event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bcs.sim.mesos import allocator, executor, frameworks, launch, wire

if TYPE_CHECKING:
    from bcs.sim.mesos import master as master_mod
    from bcs.sim.mesos import tasks

__all__ = ["dispatch"]


def _teardown(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    master.remove_framework(fw)


def _accept(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    launch.accept(master, fw, body)


def _decline(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    refuse = (body.get("filters") or {}).get("refuse_seconds")
    for oid in body.get("offer_ids") or ():
        offer = master.offers.get(wire.id_of({"o": oid}, "o") or "")
        if offer is None or offer.framework_id != fw.id:
            continue  # unknown offers are ignored
        allocator.remove_offer(master, offer)
        allocator.add_filter(fw, offer.role, offer.agent_id, offer.resources, refuse)


def _roles_of(fw: frameworks.Framework, body: dict[str, Any]) -> set[str] | None:
    roles = set(body.get("roles") or ()) or set(fw.roles)
    return roles if roles <= set(fw.roles) else None


def _revive(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    roles = _roles_of(fw, body)
    if roles is None:
        return  # an unknown role drops the whole call (still 202)
    fw.suppressed -= roles
    for key in [k for k in fw.filters if k[0] in roles]:
        del fw.filters[key]
    master.kick()


def _suppress(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    roles = _roles_of(fw, body)
    if roles is not None:
        fw.suppressed |= roles


def _kill(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    task_id, agent_id = wire.id_of(body, "task_id") or "", wire.id_of(body, "agent_id")
    task = fw.tasks.get(task_id)
    if task is None:
        _reconcile_unknown(master, fw, task_id, agent_id)
    elif agent_id is not None and agent_id != task.agent_id:
        return
    elif task.unreachable_time is not None:
        task.kill_pending = True  # retried when the agent re-registers
    else:
        executor.kill(master, task)


def _shutdown(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    agent = master.agents.get(wire.id_of(body, "agent_id") or "")
    exec_id = wire.id_of(body, "executor_id") or ""
    if agent is None or not agent.active:
        return
    ex = agent.executors.get((fw.id, exec_id))
    ids = sorted(ex.tasks) if ex is not None else [exec_id]
    task = next((fw.tasks[i] for i in ids if i in fw.tasks), None)
    if task is not None and task.agent_id == agent.id:
        executor.kill(master, task)


def _acknowledge(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    task = fw.tasks.get(wire.id_of(body, "task_id") or "")
    if task is not None and task.agent_id == wire.id_of(body, "agent_id"):
        master.updates.acknowledge(task, body["uuid"])


def _reconcile(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    entries = [e for e in body.get("tasks") or () if isinstance(e, dict)]
    if not entries:
        for task in list(fw.tasks.values()):
            _reconcile_known(master, fw, task)
        return
    for entry in entries:
        task_id, agent_id = wire.id_of(entry, "task_id") or "", wire.id_of(entry, "agent_id")
        task = fw.tasks.get(task_id)
        if task is not None and agent_id in (None, task.agent_id):
            _reconcile_known(master, fw, task)
        else:
            _reconcile_unknown(master, fw, task_id, agent_id)


def _reconcile_known(master: master_mod.Master, fw: frameworks.Framework, task: tasks.Task) -> None:
    extra = None
    if task.unreachable_time is not None:
        state = fw.lost_state("TASK_UNREACHABLE")
        extra = {"unreachable_time": {"nanoseconds": int(task.unreachable_time * 1e9)}}
    else:
        state = task.status_update_state or "TASK_STAGING"
    master.master_update(
        fw,
        task.task_id,
        state,
        reason="REASON_RECONCILIATION",
        message="Reconciliation: Latest task state",
        agent_id=task.agent_id,
        executor_id=task.executor_id,
        extra=extra,
    )


def _reconcile_unknown(
    master: master_mod.Master, fw: frameworks.Framework, task_id: str, agent_id: str | None
) -> None:
    agent = master.agents.get(agent_id) if agent_id else None
    extra = None
    if agent is None:
        state, message = "TASK_UNKNOWN", "Reconciliation: Task is unknown"
    elif agent.state == "active":
        state, message = "TASK_GONE", "Reconciliation: Task is unknown to the agent"
    elif agent.state == "unreachable":
        state, message = "TASK_UNREACHABLE", "Reconciliation: Task is unreachable"
        extra = {"unreachable_time": {"nanoseconds": int((agent.unreachable_time or 0) * 1e9)}}
    else:
        state, message = "TASK_GONE_BY_OPERATOR", "Reconciliation: Task is gone"
    master.master_update(
        fw,
        task_id,
        fw.lost_state(state),
        reason="REASON_RECONCILIATION",
        message=message,
        agent_id=agent_id,
        extra=extra,
    )


def _message(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    # The simulated executor echoes every framework message back (a MESSAGE event).
    agent = master.agents.get(wire.id_of(body, "agent_id") or "")
    exec_id = wire.id_of(body, "executor_id") or ""
    if agent is None or not agent.active:
        return
    task = fw.tasks.get(exec_id)
    command_task = task is not None and task.executor_kind == "COMMAND" and task.agent_id == agent.id
    if (fw.id, exec_id) in agent.executors or (command_task and task is not None and task.live):
        master.executor_message(fw, agent.id, exec_id, body["data"])


def _update_framework(
    master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]
) -> tuple[int, str]:
    info = body.get("framework_info")
    if not isinstance(info, dict) or wire.id_of(info, "id") != fw.id:
        return 400, "'framework_id' differs from 'update_framework.framework_info.id'"
    for field in ("principal", "user", "checkpoint"):
        if info.get(field) != fw.info.get(field):
            return 400, f"Updating 'FrameworkInfo.{field}' is unsupported"
    error = frameworks.info_error(info)
    if error is not None:
        return 400, error
    fw.info = dict(info)
    for offer in [o for o in fw.offers.values() if o.role not in fw.roles]:
        allocator.remove_offer(master, offer, rescind=True)
    suppressed = {r for r in body.get("suppressed_roles") or () if isinstance(r, str)}
    for key in [k for k in fw.filters if k[0] in fw.suppressed - suppressed]:
        del fw.filters[key]
    fw.suppressed = suppressed
    master.kick()
    return 200, ""


_Handler = Callable[["master_mod.Master", frameworks.Framework, dict[str, Any]], None]
_HANDLERS: dict[str, _Handler] = {
    "TEARDOWN": _teardown,
    "ACCEPT": _accept,
    "DECLINE": _decline,
    "REVIVE": _revive,
    "SUPPRESS": _suppress,
    "KILL": _kill,
    "SHUTDOWN": _shutdown,
    "ACKNOWLEDGE": _acknowledge,
    "RECONCILE": _reconcile,
    "MESSAGE": _message,
}


def dispatch(
    master: master_mod.Master, fw: frameworks.Framework, kind: str, call: dict[str, Any]
) -> tuple[int, str]:
    """Apply ``call``; returns (HTTP status, body). Calls not simulated (REQUEST, inverse offers,
    operation feedback) are accepted and change nothing, as the built-in allocator does."""
    if kind == "UPDATE_FRAMEWORK":
        return _update_framework(master, fw, call["update_framework"])
    handler = _HANDLERS.get(kind)
    if handler is not None:
        handler(master, fw, call.get(kind.lower()) or {})
    return 202, ""
