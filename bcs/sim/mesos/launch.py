"""ACCEPT: offer validation, then LAUNCH and LAUNCH_GROUP against the pooled offer resources.

Invalid offers turn every task of the call into TASK_LOST (TASK_DROPPED for PARTITION_AWARE
frameworks) with REASON_INVALID_OFFERS; an invalid task becomes TASK_ERROR (REASON_TASK_INVALID, or
REASON_TASK_GROUP_INVALID for every task of a bad group) while the others still launch. Resources are
consumed task by task, so a later task can fail with "more than available". What the operations
leave unused counts as declined under the call's ``filters``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bcs.sim.mesos import allocator, resources, wire

if TYPE_CHECKING:
    from bcs.sim.mesos import agents, frameworks
    from bcs.sim.mesos import master as master_mod

__all__ = ["accept"]

_LAUNCH_OPS = ("LAUNCH", "LAUNCH_GROUP")


def _op_tasks(op: Any) -> list[dict[str, Any]]:
    if not isinstance(op, dict):
        return []
    if op.get("type") == "LAUNCH":
        return list((op.get("launch") or {}).get("task_infos") or ())
    if op.get("type") == "LAUNCH_GROUP":
        return list(((op.get("launch_group") or {}).get("task_group") or {}).get("tasks") or ())
    return []


def _offer_error(master: master_mod.Master, fw: frameworks.Framework, ids: list[str]) -> str | None:
    if not ids:
        return "No offers specified"
    seen: set[str] = set()
    first: allocator.Offer | None = None
    for oid in ids:
        if oid in seen:
            return f"Duplicate offer {oid} in offer list"
        seen.add(oid)
        offer = master.offers.get(oid)
        if offer is None:
            return f"Offer {oid} is no longer valid"
        if offer.framework_id != fw.id:
            return (
                f"Offer {oid} has invalid framework {offer.framework_id} while framework {fw.id} is expected"
            )
        if first is None:
            first = offer
        elif offer.agent_id != first.agent_id:
            return (
                "Aggregated offers must belong to one single agent. Offer "
                f"{oid} uses agent {offer.agent_id} and offer {first.id} uses agent {first.agent_id}"
            )
        elif offer.role != first.role:
            return (
                "Aggregated offers must be allocated to the same role. Offer "
                f"{oid} uses role {offer.role} and offer {first.id} uses role {first.role}"
            )
    return None


def accept(master: master_mod.Master, fw: frameworks.Framework, body: dict[str, Any]) -> None:
    ids = [wire.id_of({"o": o}, "o") or "" for o in body.get("offer_ids") or ()]
    operations = [op for op in body.get("operations") or () if isinstance(op, dict)]
    error = _offer_error(master, fw, ids)
    if error is not None:
        for oid in ids:
            offer = master.offers.get(oid)
            if offer is not None and offer.framework_id == fw.id:
                allocator.remove_offer(master, offer)
        for op in operations:
            for task in _op_tasks(op):
                master.master_update(
                    fw,
                    wire.id_of(task, "task_id") or "",
                    fw.lost_state("TASK_DROPPED"),
                    reason="REASON_INVALID_OFFERS",
                    message=f"Task launched with invalid offers: {error}",
                )
        return
    offers = [master.offers[oid] for oid in ids]
    agent = master.agents[offers[0].agent_id]
    role = offers[0].role
    pool = resources.Resources()
    for offer in offers:
        pool = pool + offer.resources
        allocator.remove_offer(master, offer)
    for op in operations:
        if op.get("type") == "LAUNCH":
            for info in _op_tasks(op):
                pool = _launch(master, fw, agent, role, info, pool, op_id="id" in op)
        elif op.get("type") == "LAUNCH_GROUP":
            pool = _launch_group(master, fw, agent, role, op.get("launch_group") or {}, pool, "id" in op)
        # RESERVE, CREATE and the other offer operations are not simulated: they change nothing.
    allocator.add_filter(fw, role, agent.id, pool, (body.get("filters") or {}).get("refuse_seconds"))


def _task_error(
    master: master_mod.Master, fw: frameworks.Framework, info: dict[str, Any], reason: str, message: str
) -> None:
    master.master_update(
        fw,
        wire.id_of(info, "task_id") or "",
        "TASK_ERROR",
        reason=reason,
        message=message,
        agent_id=wire.id_of(info, "agent_id"),
    )


def _common_task_error(
    fw: frameworks.Framework, agent: agents.Agent, info: dict[str, Any], seen: set[str]
) -> tuple[str | None, resources.Resources]:
    task_id = wire.id_of(info, "task_id") or ""
    try:
        res = resources.Resources.parse(info.get("resources"))
    except (ValueError, KeyError, TypeError) as exc:
        return f"Invalid resources: {exc}", resources.Resources()
    if res.empty():
        return "Task uses no resources", res
    if task_id in fw.tasks or task_id in seen:
        return f"Task has duplicate ID: {task_id}", res
    task_agent = wire.id_of(info, "agent_id")
    if task_agent != agent.id:
        return f"Task uses invalid agent: {task_agent} (the offers are for {agent.id})", res
    return None, res


def _executor_resources(info: dict[str, Any]) -> resources.Resources:
    return resources.Resources.parse(info.get("resources"))


def _launch(
    master: master_mod.Master,
    fw: frameworks.Framework,
    agent: agents.Agent,
    role: str,
    info: dict[str, Any],
    pool: resources.Resources,
    *,
    op_id: bool,
) -> resources.Resources:
    error, res = _common_task_error(fw, agent, info, set())
    executor = info.get("executor")
    if error is None and op_id:
        error = "Operation IDs are not supported for LAUNCH"
    if error is None and (info.get("command") is None) == (executor is None):
        error = "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    container = info.get("container") or {}
    if error is None and container.get("type") == "DOCKER" and not container.get("docker"):
        error = "DockerInfo 'docker' is not set for DOCKER typed ContainerInfo"
    need = res
    if error is None and isinstance(executor, dict):
        exec_id = wire.id_of(executor, "executor_id") or ""
        if (fw.id, exec_id) not in agent.executors:
            try:
                need = need + _executor_resources(executor)
            except (ValueError, KeyError, TypeError) as exc:
                error = f"Invalid executor resources: {exc}"
    if error is None and not pool.contains(need):
        error = f"Total resources {need} required by task and its executor is more than available {pool}"
    if error is not None:
        _task_error(master, fw, info, "REASON_TASK_INVALID", error)
        return pool
    if isinstance(executor, dict):
        executor = {**executor, "framework_id": wire.ident(fw.id)}
    master.start_tasks(fw, agent, role, [(info, res)], executor, "CUSTOM" if executor else "COMMAND")
    return pool - need


def _group_error(
    fw: frameworks.Framework,
    agent: agents.Agent,
    executor: Any,
    tasks: list[dict[str, Any]],
    pool: resources.Resources,
) -> tuple[str | None, list[resources.Resources], resources.Resources]:
    if not isinstance(executor, dict):
        return "'LaunchGroup.executor' must be set", [], pool
    exec_id = wire.id_of(executor, "executor_id") or ""
    if executor.get("type") in (None, "UNKNOWN"):
        return "'ExecutorInfo.type' must be set", [], pool
    fw_id = wire.id_of(executor, "framework_id")
    if fw_id is None:
        return "'ExecutorInfo.framework_id' must be set", [], pool
    if fw_id != fw.id:
        return f"ExecutorInfo has an invalid FrameworkID (Actual: {fw_id} vs Expected: {fw.id})", [], pool
    if not tasks:
        return "Task group must contain at least one task", [], pool
    need = resources.Resources()
    if (fw.id, exec_id) not in agent.executors:
        try:
            exec_res = _executor_resources(executor)
        except (ValueError, KeyError, TypeError) as exc:
            return f"Invalid executor resources: {exc}", [], pool
        cpus, mem = exec_res.scalars.get("cpus"), exec_res.scalars.get("mem")
        if cpus is None or cpus < 0.01:
            return f"Executor '{exec_id}' uses less CPUs ({cpus}) than the minimum required (0.01)", [], pool
        if mem is None or mem < 32:
            mem_text = f"{mem:g}MB" if mem is not None else "None"
            return (
                f"Executor '{exec_id}' uses less memory ({mem_text}) than the minimum required (32MB)",
                [],
                pool,
            )
        if "disk" not in exec_res.scalars:
            return f"Executor '{exec_id}' uses no disk", [], pool
        need = exec_res
    seen: set[str] = set()
    each = []
    for info in tasks:
        error, res = _common_task_error(fw, agent, info, seen)
        seen.add(wire.id_of(info, "task_id") or "")
        task_exec = info.get("executor")
        if error is None and task_exec is not None and wire.id_of(task_exec, "executor_id") != exec_id:
            task_id = wire.id_of(info, "task_id")
            error = f"The `ExecutorInfo` of task '{task_id}' is different from executor '{exec_id}'"
        if error is None and (info.get("container") or {}).get("type") == "DOCKER":
            error = "Docker ContainerInfo is not supported on the task"
        if error is not None:
            return error, [], pool
        each.append(res)
        need = need + res
    if not pool.contains(need):
        return (
            f"Total resources {need} required by task group and its executor are more than available {pool}",
            [],
            pool,
        )
    return None, each, pool - need


def _launch_group(
    master: master_mod.Master,
    fw: frameworks.Framework,
    agent: agents.Agent,
    role: str,
    group: dict[str, Any],
    pool: resources.Resources,
    op_id: bool,
) -> resources.Resources:
    executor = group.get("executor")
    tasks = [t for t in (group.get("task_group") or {}).get("tasks") or () if isinstance(t, dict)]
    error, each, left = _group_error(fw, agent, executor, tasks, pool)
    if error is None and op_id:
        error = "Operation IDs are not supported for LAUNCH_GROUP"
    if error is not None:
        for info in tasks:
            _task_error(master, fw, info, "REASON_TASK_GROUP_INVALID", error)
        return pool
    assert isinstance(executor, dict)
    kind = "DEFAULT" if executor.get("type") == "DEFAULT" else "CUSTOM"
    master.start_tasks(fw, agent, role, list(zip(tasks, each, strict=True)), executor, kind)
    return left
