"""Health checks of Mesos taskgroups (bk-bcs §6.4): the ``healthChecks`` of a container, the Mesos
``health_check`` the executor runs, and the results that come back in ``TaskStatus.healthy``.

HTTP, TCP and COMMAND checks run on the agent: the first one of each container goes into its task's
Mesos ``health_check`` (Mesos runs one per task), with the port resolved from ``port`` or
``portName`` (HOST network: the host port, picked from the offer for ``hostPort: 0``; BRIDGE and
others: ``hostPort`` if > 0, else ``containerPort``). The executor reports every change of health in a
status update with ``healthy``, and kills a task after ``consecutiveFailures`` failures in a row
(0: never); such a task counts as Failed, so the restart policy reschedules it. REMOTE_HTTP and
REMOTE_TCP checks (run by a checker outside the cluster upstream) are validated and kept, not run.
"""

from __future__ import annotations

from typing import Any

import attrs

from bcs.plugins.mesos import fields

__all__ = ["HEALTH_TYPES", "LOCAL_HEALTH", "HealthCheck", "parse", "to_mesos"]

HEALTH_TYPES = ("HTTP", "TCP", "COMMAND", "REMOTE_HTTP", "REMOTE_TCP")
LOCAL_HEALTH = ("HTTP", "TCP", "COMMAND")  # run by the executor on the agent; REMOTE_* run elsewhere


@attrs.frozen
class HealthCheck:
    """One ``healthChecks`` entry; timing defaults are Mesos' HealthCheck defaults."""

    type: str
    interval: float = 10.0  # s between checks
    timeout: float = 20.0  # s a check may take
    consecutive_failures: int = 3  # failures in a row that kill the task (0 = never)
    grace_period: float = 10.0  # s after start in which failures do not count (until a success)
    delay: float = 0.0  # s before the first check
    port: int = 0
    port_name: str = ""
    scheme: str = "http"
    path: str = "/"
    command: str = ""

    @property
    def local(self) -> bool:
        return self.type in LOCAL_HEALTH


def parse(data: Any, path: str, port_names: set[str]) -> HealthCheck:
    """One ``healthChecks`` entry of a container whose ports have ``port_names``."""
    h = fields.obj(data, path)
    kind = h.get("type")
    if kind not in HEALTH_TYPES:
        raise fields.bad(f"{path}.type", f"must be one of {', '.join(HEALTH_TYPES)}, not {kind!r}")
    interval = fields.seconds(h.get("intervalSeconds"), f"{path}.intervalSeconds", default=10.0)
    if interval <= 0:
        raise fields.bad(f"{path}.intervalSeconds", "must be positive")
    check = HealthCheck(
        type=kind,
        interval=interval,
        timeout=fields.seconds(h.get("timeoutSeconds"), f"{path}.timeoutSeconds", default=20.0),
        consecutive_failures=fields.integer(
            h.get("consecutiveFailures"), f"{path}.consecutiveFailures", default=3
        ),
        grace_period=fields.seconds(h.get("gracePeriodSeconds"), f"{path}.gracePeriodSeconds", default=10.0),
        delay=fields.seconds(h.get("delaySeconds"), f"{path}.delaySeconds", default=0.0),
    )
    if kind == "COMMAND":
        value = fields.obj(h.get("command"), f"{path}.command").get("value")
        if not isinstance(value, str) or not value.strip():
            raise fields.bad(f"{path}.command.value", "is required for a COMMAND check")
        return attrs.evolve(check, command=value)
    section = "http" if kind.endswith("HTTP") else "tcp"
    target = fields.obj(h.get(section), f"{path}.{section}")
    port = fields.integer(target.get("port"), f"{path}.{section}.port")
    name = target.get("portName") or ""
    if name and name not in port_names:
        raise fields.bad(f"{path}.{section}.portName", f"{name!r} names no port of this container")
    if not port and not name:
        raise fields.bad(f"{path}.{section}", "needs a port or a portName")
    check = attrs.evolve(check, port=port, port_name=name)
    if section == "tcp":
        return check
    scheme = target.get("scheme") or "http"
    if scheme not in ("http", "https"):
        raise fields.bad(f"{path}.http.scheme", f"must be http or https, not {scheme!r}")
    return attrs.evolve(check, scheme=scheme, path=str(target.get("path") or "/"))


def to_mesos(check: HealthCheck, *, port: int) -> dict[str, Any]:
    """The Mesos ``HealthCheck`` of a local check (``port`` resolved by the caller)."""
    out: dict[str, Any] = {
        "type": check.type,
        "delay_seconds": check.delay,
        "interval_seconds": check.interval,
        "timeout_seconds": check.timeout,
        "consecutive_failures": check.consecutive_failures,
        "grace_period_seconds": check.grace_period,
    }
    if check.type == "HTTP":
        out["http"] = {"scheme": check.scheme, "port": port, "path": check.path}
    elif check.type == "TCP":
        out["tcp"] = {"port": port}
    else:
        out["command"] = {"value": check.command, "shell": True}
    return out
