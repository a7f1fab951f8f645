"""Scheduler records (application, taskgroup, deployment) and the bk-bcs state rules of §6.4.

Mesos task states map to BCS task states; a taskgroup's status and an application's status are
derived from them by upstream's first-match rules. Records serialise to JSON for the KV store.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from bcs.plugins.mesos import objects

__all__ = [
    "TASK_STATES",
    "TERMINAL",
    "Application",
    "Deployment",
    "TaskGroup",
    "app_status",
    "taskgroup_status",
]

TASK_STATES = {
    "TASK_STAGING": "Staging",
    "TASK_STARTING": "Starting",
    "TASK_RUNNING": "Running",
    "TASK_FINISHED": "Finish",
    "TASK_FAILED": "Failed",
    "TASK_GONE": "Failed",
    "TASK_KILLING": "Killing",
    "TASK_KILLED": "Killed",
    "TASK_LOST": "Lost",
    "TASK_UNREACHABLE": "Lost",
    "TASK_GONE_BY_OPERATOR": "Lost",
    "TASK_DROPPED": "Lost",
    "TASK_UNKNOWN": "Lost",
    "TASK_ERROR": "Error",
}
TERMINAL = frozenset({"Finish", "Failed", "Killed", "Lost", "Error"})


def taskgroup_status(states: Iterable[str]) -> str:
    """Upstream's first-match rule over the BCS states of a taskgroup's tasks."""
    s = list(states)
    if not s:
        return "Unknown"
    rules = (
        ("Failed", any),
        ("Killing", any),
        ("Error", any),
        ("Finish", all),
        ("Killed", all),
        ("Lost", any),
        ("Staging", all),
        ("Starting", any),
        ("Restarting", any),
        ("Running", any),
    )
    for state, quantifier in rules:
        if quantifier(x == state for x in s):
            return state
    if all(x in TERMINAL for x in s):
        return "Killed" if "Killed" in s else s[-1]
    return "Unknown"


def app_status(instances: int, statuses: list[str]) -> tuple[str, str]:
    """(status, message) of an application from its taskgroups' statuses."""
    if any(s == "Error" for s in statuses):
        return "Error", "some taskgroups are in error"
    if any(s in ("Failed", "Lost") for s in statuses):
        return "Abnormal", "some taskgroups failed or were lost"
    if len(statuses) < instances:
        return "Abnormal", "have not enough resources to launch application"
    if statuses and all(s == "Finish" for s in statuses):
        return "Finish", "application is finished"
    if any(s in ("Staging", "Starting") for s in statuses):
        return "Deploying", "application is deploying"
    if sum(s == "Running" for s in statuses) == instances:
        return "Running", "application is running"
    return "Abnormal", "application is not running as defined"


@attrs.define(eq=False)
class TaskGroup:
    id: str
    namespace: str
    app: str
    instance: int
    version: str  # the application generation it was launched from
    agent_id: str = ""
    hostname: str = ""
    host_ip: str = ""
    pod_ip: str = ""
    status: str = "Staging"
    last_status: str = ""
    message: str = ""
    created: float = attrs.field(factory=time.time)
    updated: float = attrs.field(factory=time.time)
    tasks: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # task id -> name, state, image...
    ports: dict[str, int] = attrs.field(factory=dict)
    attributes: dict[str, Any] = attrs.field(factory=dict)  # the agent's, as JSON (sets as lists)
    killing: bool = False  # killed on purpose (scale down, delete, update): not rescheduled
    restarts: int = 0
    launched: bool = False  # ACCEPT sent
    kill_sent: float = 0.0  # monotonic time of the last KILL (resent if nothing happens)
    delta: dict[str, float] = attrs.field(factory=dict)  # cpus/mem/disk gained in place since launch

    @property
    def name(self) -> str:
        return f"{self.app}-{self.instance}"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def set_task_state(self, task_id: str, state: str, message: str = "") -> bool:
        """Record a task's BCS state; True when the taskgroup's status changed."""
        task = self.tasks.get(task_id)
        if task is None:
            return False
        task["state"] = state
        if message:
            task["message"] = message
        self.updated = time.time()
        status = taskgroup_status(t["state"] for t in self.tasks.values())
        if status != self.status:
            self.last_status, self.status = self.status, status
            if message:
                self.message = message
            return True
        return False

    def set_health(self, task_id: str, state: str, *, healthy: bool, message: str) -> str:
        """Record a health result of a task; return the BCS state to record for the update.

        A task the executor killed for failing its health check (not one we killed) is Failed, so
        the restart policy reschedules it (bk-bcs §6.4)."""
        task = self.tasks.get(task_id)
        if task is None:
            return state
        check = task.setdefault("health", {"type": "", "healthy": None, "message": ""})
        check["healthy"], check["message"] = healthy, message
        if state == "Killed" and not healthy and not self.kill_sent:
            return "Failed"
        return state

    @property
    def healthy(self) -> bool | None:
        """False if any checked task is unhealthy, True if all checked ones are healthy, else None."""
        results = [t["health"]["healthy"] for t in self.tasks.values() if "health" in t]
        if not results or (None in results and False not in results):
            return None
        return False not in results

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskGroup:
        names = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@attrs.define(eq=False)
class Application:
    spec: objects.AppSpec
    instances: int
    version: str = "1"
    status: str = "Staging"
    last_status: str = ""
    message: str = ""
    created: float = attrs.field(factory=time.time)
    updated: float = attrs.field(factory=time.time)
    deleting: bool = False
    owner: str = ""  # the deployment this application belongs to
    not_before: dict[int, float] = attrs.field(factory=dict)  # instance -> wall time of next launch
    restarts: dict[int, int] = attrs.field(factory=dict)  # instance -> reschedules so far

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def namespace(self) -> str:
        return self.spec.namespace

    def to_json(self) -> dict[str, Any]:
        return {
            "definition": dict(self.spec.raw),
            "instances": self.instances,
            "version": self.version,
            "status": self.status,
            "last_status": self.last_status,
            "message": self.message,
            "created": self.created,
            "updated": self.updated,
            "deleting": self.deleting,
            "owner": self.owner,
            "not_before": {str(k): v for k, v in self.not_before.items()},
            "restarts": {str(k): v for k, v in self.restarts.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, name: str | None = None) -> Application:
        spec = objects.parse(data["definition"])
        if isinstance(spec, objects.DeploymentSpec):
            spec = spec.app
        assert isinstance(spec, objects.AppSpec)
        if name is not None and name != spec.name:
            spec = attrs.evolve(spec, name=name)
        return cls(
            spec=spec,
            instances=data["instances"],
            version=data.get("version", "1"),
            status=data.get("status", "Staging"),
            last_status=data.get("last_status", ""),
            message=data.get("message", ""),
            created=data.get("created", time.time()),
            updated=data.get("updated", time.time()),
            deleting=data.get("deleting", False),
            owner=data.get("owner", ""),
            not_before={int(k): v for k, v in (data.get("not_before") or {}).items()},
            restarts={int(k): v for k, v in (data.get("restarts") or {}).items()},
        )


@attrs.define(eq=False)
class Deployment:
    spec: objects.DeploymentSpec
    application: str  # the application serving now
    application_ext: str = ""  # the new application while rolling
    generation: int = 1
    status: str = "Deploying"
    phase: str = ""  # "up" | "down": the next half-step of the rolling update
    paused: bool = False
    last_rolling: float = 0.0
    previous: dict[str, Any] = attrs.field(factory=dict)  # the definition a rolling update replaces
    rolling_back: str = ""  # the cancelled new application, while it is being removed
    created: float = attrs.field(factory=time.time)
    updated: float = attrs.field(factory=time.time)
    deleting: bool = False

    @property
    def rolling(self) -> bool:
        return bool(self.application_ext)

    def to_json(self) -> dict[str, Any]:
        return {
            "definition": dict(self.spec.raw),
            **attrs.asdict(self, filter=lambda a, _v: a.name != "spec"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Deployment:
        spec = objects.parse(data["definition"], kind="deployment")
        assert isinstance(spec, objects.DeploymentSpec)
        names = {f.name for f in attrs.fields(cls)} - {"spec"}
        return cls(spec=spec, **{k: v for k, v in data.items() if k in names})
