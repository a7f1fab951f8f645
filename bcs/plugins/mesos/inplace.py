"""In-place resource updates (bk-bcs §6.4): ``PUT .../applications?args=resource`` and
``PUT .../deployments?args=resource``.

Only the containers' resources may differ from the running definition (anything else is a 400
naming the field). Running taskgroups keep running: each records how much more (or less) it now
holds than it was launched with, its executor is told in a framework message, and the sum over an
agent's live taskgroups is that agent's delta (upstream ``AgentSchedInfo``, kept under
``/blueking/agentschedinfo/<agent>``), which the offer pool takes from every new offer of the agent
because the master still counts it as free. A taskgroup launched later asks for the new resources
outright; when one with a delta ends, its agent's delta shrinks.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import attrs
import orjson

from bcs import errors
from bcs.plugins.mesos import objects, records, rolling

if TYPE_CHECKING:
    from bcs.plugins.mesos.scheduler import Scheduler

__all__ = ["agent_delta", "non_resource_change", "sync_agent", "update_app", "update_deployment"]

KINDS = ("cpus", "mem", "disk")
_APP_FIELDS = {
    "labels": "metadata.labels",
    "restart": "restartPolicy",
    "kill_grace": "killPolicy.gracePeriod",
    "constraint": "constraint",
    "network_mode": "spec.template.spec.networkMode",
}
_CONTAINER_FIELDS = {
    "image": "image",
    "type": "type",
    "command": "command",
    "args": "args",
    "env": "env",
    "ports": "ports",
    "health_checks": "healthChecks",
}


def non_resource_change(old: objects.AppSpec, new: objects.AppSpec) -> str | None:
    """The JSON path of the first thing besides resources that differs, or None."""
    for attr, path in _APP_FIELDS.items():
        if getattr(old, attr) != getattr(new, attr):
            return path
    if len(old.containers) != len(new.containers):
        return "spec.template.spec.containers"
    for i, (a, b) in enumerate(zip(old.containers, new.containers, strict=True)):
        for attr, name in _CONTAINER_FIELDS.items():
            if getattr(a, attr) != getattr(b, attr):
                return f"spec.template.spec.containers[{i}].{name}"
    return None


def update_app(sched: Scheduler, spec: objects.AppSpec, *, owner_ok: bool = False) -> records.Application:
    """Give ``spec``'s resources to the application and its running taskgroups, in place."""
    app = sched.app(spec.namespace, spec.name)
    if app.owner and not owner_ok:
        raise errors.Conflict(
            f"application {spec.namespace}/{spec.name} belongs to deployment {app.owner}; update that"
        )
    if rolling.owns_status(sched, app):
        raise errors.Conflict(f"application {spec.namespace}/{spec.name} is rolling")
    changed = non_resource_change(app.spec, spec)
    if changed is None and spec.instances != app.instances:
        changed = "spec.instance"
    if changed is not None:
        raise errors.BadRequest(
            f"invalid {changed}: args=resource changes resources only; it differs from the running definition"
        )
    delta = {k: getattr(spec, k) - getattr(app.spec, k) for k in KINDS}
    agents = set()
    for tg in sched.tgs_of(app.namespace, app.name):
        if tg.terminal or not tg.launched:
            continue
        tg.delta = {k: tg.delta.get(k, 0.0) + delta[k] for k in KINDS}
        sched.save_tg(tg)
        agents.add(tg.agent_id)
        _tell_executor(sched, tg, spec)
    app.spec = spec
    app.version = str(int(app.version) + 1)
    sched.save_app(app)
    sched.save_version(app)
    for agent_id in sorted(agents):
        sync_agent(sched, agent_id)
    sched.wake()
    return app


def update_deployment(sched: Scheduler, spec: objects.DeploymentSpec) -> records.Deployment:
    """New resources for the serving application of a deployment that is not rolling."""
    dep = rolling.get(sched, spec.namespace, spec.name)
    if dep.rolling or dep.rolling_back:
        raise errors.Conflict(f"deployment {spec.namespace}/{spec.name} is rolling")
    app_spec = attrs.evolve(spec.app, name=dep.application)
    update_app(sched, app_spec, owner_ok=True)
    dep.spec = spec
    rolling.save(sched, dep)
    return dep


def _tell_executor(sched: Scheduler, tg: records.TaskGroup, spec: objects.AppSpec) -> None:
    """Upstream's executor resizes the containers when told; ours carry the new limits in a message."""
    limits = [{"name": f"{tg.name}-{i}", "cpus": c.cpus, "mem": c.mem} for i, c in enumerate(spec.containers)]
    data = orjson.dumps({"type": "UpdateResources", "taskgroup": tg.id, "containers": limits})
    payload = {
        "agent_id": {"value": tg.agent_id},
        "executor_id": {"value": f"exec-{tg.id}"},
        "data": base64.b64encode(data).decode(),
    }
    sched.send("MESSAGE", payload)


def agent_delta(sched: Scheduler, agent_id: str) -> dict[str, float]:
    """What the live taskgroups on ``agent_id`` hold beyond what they were launched with."""
    total = dict.fromkeys(KINDS, 0.0)
    for tg in sched.taskgroups.values():
        if tg.agent_id == agent_id and tg.delta and not tg.terminal:
            for k in KINDS:
                total[k] += tg.delta.get(k, 0.0)
    return total


def sync_agent(sched: Scheduler, agent_id: str) -> None:
    """Hand ``agent_id``'s delta to the offer pool and the KV port (after a change)."""
    total = agent_delta(sched, agent_id)
    declines = sched.pool.set_delta(agent_id, total["cpus"], total["mem"], total["disk"])
    key = f"{sched.store.root}agentschedinfo/{agent_id}"
    if any(total.values()):
        sched.store.put(
            key,
            {
                "agentId": agent_id,
                "deltaCPU": total["cpus"],
                "deltaMem": total["mem"],
                "deltaDisk": total["disk"],
            },
        )
    else:
        sched.store.delete(key)
    if declines:
        sched.decline(declines)
