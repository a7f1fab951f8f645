"""Read-only views of the master: the v0 ``/master/state`` JSON and the operator API ``GET_*`` calls.

``/master/state`` names agents "slaves", writes resources as objects (ranges and sets as strings)
and ids as plain strings; the operator API (``POST /api/v1``) uses v1 proto JSON instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bcs.sim.mesos import agents, resources, wire
from bcs.sim.mesos import master as master_mod

if TYPE_CHECKING:
    from bcs.sim.mesos import frameworks, tasks

__all__ = ["master_state", "operator_call"]

_AGENT_CAPS = [
    "MULTI_ROLE",
    "HIERARCHICAL_ROLE",
    "RESERVATION_REFINEMENT",
    "RESOURCE_PROVIDER",
    "AGENT_DRAINING",
]


def _v0_labels(info: dict[str, Any]) -> list[dict[str, Any]] | None:
    labels = (info.get("labels") or {}).get("labels")
    return list(labels) if labels else None


def _task(task: tasks.Task, *, state: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": task.task_id,
        "name": task.name,
        "framework_id": task.framework_id,
        "executor_id": "" if task.executor_kind == "COMMAND" else task.executor_id,
        "slave_id": task.agent_id,
        "state": state or task.state,
        "resources": task.resources.to_state(),
        "role": task.role,
        "statuses": list(task.statuses),
    }
    labels = _v0_labels(task.info)
    if labels:
        out["labels"] = labels
    for key in ("discovery", "container", "health_check"):
        if task.info.get(key) is not None:
            out[key] = task.info[key]
    return out


def _used(master: master_mod.Master, fw: frameworks.Framework) -> resources.Resources:
    used = resources.Resources()
    for task in fw.tasks.values():
        if task.live:
            used = used + task.resources
    for agent in master.agents.values():
        for (fid, _), ex in agent.executors.items():
            if fid == fw.id:
                used = used + ex.resources
    return used


def _framework(master: master_mod.Master, fw: frameworks.Framework) -> dict[str, Any]:
    info = fw.info
    used = _used(master, fw)
    offered = resources.Resources()
    for offer in fw.offers.values():
        offered = offered + offer.resources
    out: dict[str, Any] = {
        "id": fw.id,
        "name": info.get("name", ""),
        "used_resources": used.to_state(),
        "offered_resources": offered.to_state(),
        "capabilities": sorted(fw.capabilities),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "active": fw.active,
        "connected": fw.connected,
        "recovered": fw.recovered,
        "user": info.get("user", ""),
        "failover_timeout": fw.failover_timeout,
        "checkpoint": bool(info.get("checkpoint", False)),
        "registered_time": fw.registered_time,
        "unregistered_time": fw.unregistered_time,
        "resources": (used + offered).to_state(),
        "tasks": [_task(t) for t in fw.tasks.values() if t.unreachable_time is None],
        # The master keeps partitioned tasks as TASK_UNREACHABLE whatever the framework was told.
        "unreachable_tasks": [
            _task(t, state="TASK_UNREACHABLE") for t in fw.tasks.values() if t.unreachable_time is not None
        ],
        "completed_tasks": [_task(t) for t in fw.completed],
        "offers": [
            {
                "id": o.id,
                "framework_id": fw.id,
                "allocation_info": {"role": o.role},
                "slave_id": o.agent_id,
                "resources": o.resources.to_state(),
            }
            for o in fw.offers.values()
        ],
        "executors": [
            {
                "executor_id": ex.executor_id,
                "name": ex.info.get("name", ""),
                "framework_id": fw.id,
                "slave_id": agent.id,
                "type": ex.kind,
                "resources": ex.resources.to_state(),
            }
            for agent in master.agents.values()
            for (fid, _), ex in agent.executors.items()
            if fid == fw.id
        ],
        "offer_constraints": {},
    }
    if fw.multi_role:
        out["roles"] = fw.roles
    else:
        out["role"] = fw.roles[0]
    if info.get("principal") is not None:
        out["principal"] = info["principal"]
    if fw.reregistered_time is not None:
        out["reregistered_time"] = fw.reregistered_time
    labels = _v0_labels(info)
    if labels:
        out["labels"] = labels
    return out


def _slave(agent: agents.Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "hostname": agent.hostname,
        "port": agent.port,
        "attributes": agents.attribute_values(agent.attributes),
        "pid": agent.pid(),
        "registered_time": agent.registered_time,
        "resources": agent.total.to_state(),
        "used_resources": agent.used.to_state(),
        "offered_resources": agent.offered.to_state(),
        "reserved_resources": {},
        "unreserved_resources": agent.total.to_state(),
        "active": agent.active,
        "deactivated": False,
        "version": "1.11.0",
        "capabilities": list(_AGENT_CAPS),
    }


def master_state(master: master_mod.Master) -> dict[str, Any]:
    info = master.master_info()
    registered = [a for a in master.agents.values() if a.active]
    return {
        **master_mod.VERSION,
        "start_time": master.start_time,
        "elected_time": master.elected_time,
        "id": master.master_id,
        "pid": info["pid"],
        "hostname": master.host,
        "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        "activated_slaves": float(len(registered)),
        "deactivated_slaves": 0.0,
        "unreachable_slaves": float(sum(a.state == "unreachable" for a in master.agents.values())),
        "leader": info["pid"],
        "leader_info": info,
        "flags": {
            "allocation_interval": f"{master.allocation_interval:g}secs",
            "port": str(master.port),
            "hostname": master.host,
        },
        "slaves": [_slave(a) for a in registered],
        "recovered_slaves": [],
        "frameworks": [_framework(master, fw) for fw in master.frameworks.values()],
        "completed_frameworks": [_framework(master, fw) for fw in master.completed_frameworks],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


# -- operator API (v1 JSON) ------------------------------------------------------------------------


def _v1_task(task: tasks.Task, *, state: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": task.name,
        "task_id": wire.ident(task.task_id),
        "framework_id": wire.ident(task.framework_id),
        "agent_id": wire.ident(task.agent_id),
        "state": state or task.state,
        "resources": task.resources.to_v1(role=task.role),
        "statuses": [{"task_id": wire.ident(task.task_id), **s} for s in task.statuses],
    }
    if task.executor_kind != "COMMAND":
        out["executor_id"] = wire.ident(task.executor_id)
    if task.status_update_state:
        out["status_update_state"] = task.status_update_state
    for key in ("labels", "container", "discovery", "health_check"):
        if task.info.get(key) is not None:
            out[key] = task.info[key]
    return out


def _get_tasks(master: master_mod.Master) -> dict[str, Any]:
    live, unreachable, completed = [], [], []
    for fw in master.frameworks.values():
        for t in fw.tasks.values():
            if t.unreachable_time is None:
                live.append(_v1_task(t))
            else:
                unreachable.append(_v1_task(t, state="TASK_UNREACHABLE"))
        completed += [_v1_task(t) for t in fw.completed]
    return {"tasks": live, "unreachable_tasks": unreachable, "completed_tasks": completed}


def _get_agents(master: master_mod.Master) -> dict[str, Any]:
    out = []
    for a in master.agents.values():
        if not a.active:
            continue
        info = {
            "hostname": a.hostname,
            "port": a.port,
            "resources": a.total.to_v1(role="*"),
            "attributes": a.attributes,
            "id": wire.ident(a.id),
        }
        out.append(
            {
                "agent_info": info,
                "active": True,
                "deactivated": False,
                "version": "1.11.0",
                "pid": a.pid(),
                "registered_time": {"nanoseconds": int(a.registered_time * 1e9)},
                "total_resources": a.total.to_v1(role="*"),
                "allocated_resources": a.used.to_v1(role="*"),
                "offered_resources": a.offered.to_v1(role="*"),
                "capabilities": [{"type": c} for c in _AGENT_CAPS],
            }
        )
    return {"agents": out, "recovered_agents": []}


def _get_frameworks(master: master_mod.Master) -> dict[str, Any]:
    def one(fw: frameworks.Framework) -> dict[str, Any]:
        return {
            "framework_info": fw.info,
            "active": fw.active,
            "connected": fw.connected,
            "recovered": fw.recovered,
            "registered_time": {"nanoseconds": int(fw.registered_time * 1e9)},
        }

    return {
        "frameworks": [one(fw) for fw in master.frameworks.values()],
        "completed_frameworks": [one(fw) for fw in master.completed_frameworks],
    }


def operator_call(master: master_mod.Master, kind: str) -> dict[str, Any] | None:
    """The response of an operator ``GET_*`` call, or None when the call is not simulated."""
    if kind == "GET_VERSION":
        return {"type": kind, "get_version": {"version_info": dict(master_mod.VERSION)}}
    if kind == "GET_TASKS":
        return {"type": kind, "get_tasks": _get_tasks(master)}
    if kind == "GET_AGENTS":
        return {"type": kind, "get_agents": _get_agents(master)}
    if kind == "GET_FRAMEWORKS":
        return {"type": kind, "get_frameworks": _get_frameworks(master)}
    if kind == "GET_STATE":
        state = {
            "get_tasks": _get_tasks(master),
            "get_executors": {"executors": []},
            "get_frameworks": _get_frameworks(master),
            "get_agents": _get_agents(master),
        }
        return {"type": kind, "get_state": state}
    return None
