"""Mesos v1 JSON in and out: offers into :class:`bcs.core.offers.model.Offer`, taskgroups into
LAUNCH_GROUP operations (ports, template variables, injected environment)."""

from __future__ import annotations

import re
from typing import Any

from bcs.core.offers import model
from bcs.plugins.mesos import health, objects, records

__all__ = ["EXECUTOR", "launch_group", "offer_from_json", "offer_ids", "scalar", "template_env"]

# The default executor's own share, added to every taskgroup (the master's minimums).
EXECUTOR = {"cpus": 0.1, "mem": 32.0, "disk": 10.0}
_VAR = re.compile(r"\$\{bcs\.([a-z]+)(?:\.([A-Za-z0-9_-]+))?\}")


def _attr(a: dict[str, Any]) -> model.AttrValue | None:
    kind = a.get("type")
    if kind == "TEXT":
        return str((a.get("text") or {}).get("value", ""))
    if kind == "SCALAR":
        return float((a.get("scalar") or {}).get("value", 0.0))
    if kind == "SET":
        return frozenset(str(i) for i in (a.get("set") or {}).get("item", []))
    if kind == "RANGES":
        ranges = (a.get("ranges") or {}).get("range", [])
        return "[" + ",".join(f"{r['begin']}-{r['end']}" for r in ranges) + "]"
    return None


def offer_from_json(offer: dict[str, Any]) -> model.Offer:
    out = model.Offer(
        id=offer["id"]["value"],
        agent_id=offer["agent_id"]["value"],
        hostname=offer.get("hostname", ""),
        extra=offer,
    )
    for r in offer.get("resources", []):
        name = r.get("name")
        if r.get("type") == "SCALAR" and name in ("cpus", "mem", "disk"):
            setattr(out, name, getattr(out, name) + float(r["scalar"]["value"]))
        elif r.get("type") == "RANGES" and name == "ports":
            out.ports.extend((int(x["begin"]), int(x["end"])) for x in r["ranges"].get("range", []))
    out.ports.sort()
    for a in offer.get("attributes", []):
        value = _attr(a)
        if value is not None:
            out.attributes[a["name"]] = value
    url = offer.get("url") or {}
    out.attributes.setdefault("InnerIP", (url.get("address") or {}).get("ip", ""))
    return out


def offer_ids(ids: list[str]) -> list[dict[str, str]]:
    """Offer ids as the OfferID objects of ACCEPT and DECLINE."""
    return [{"value": i} for i in ids]


def scalar(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": round(value, 4)}}


def template_env(text: str, *, tg: records.TaskGroup, cluster_id: str, ports: dict[str, int]) -> str:
    """Expand ``${bcs.namespace}``-style variables (unknown ones stay as written)."""
    values = {
        "namespace": tg.namespace,
        "appname": tg.app,
        "instanceid": str(tg.instance),
        "hostip": tg.host_ip,
        "taskgroupid": tg.id,
        "taskgroupname": tg.name,
        "clusterid": cluster_id,
    }

    def sub(m: re.Match[str]) -> str:
        if m.group(1) == "ports" and m.group(2) in ports:
            return str(ports[m.group(2)])
        return values.get(m.group(1), m.group(0)) if m.group(2) is None else m.group(0)

    return _VAR.sub(sub, text)


def _check_port(name: str, container: objects.Container, picked: dict[str, int], network_mode: str) -> int:
    """A check's ``portName``: the host port in HOST mode, else hostPort if > 0, else containerPort."""
    for p in container.ports:
        if p.name == name:
            if network_mode.upper() == "HOST":
                return picked.get(name, p.host_port if p.host_port > 0 else p.container_port)
            return p.host_port if p.host_port > 0 else p.container_port
    return 0


def launch_group(
    *,
    tg: records.TaskGroup,
    spec: objects.AppSpec,
    placement: model.Placement,
    framework_id: str,
    cluster_id: str,
) -> dict[str, Any]:
    """The LAUNCH_GROUP operation of one taskgroup; fills ``tg.ports`` and ``tg.tasks``."""
    offer = placement.offer
    picked = list(placement.ports)
    tg.ports = {}
    port_env: list[tuple[str, str]] = []
    per_container: list[list[int]] = []
    for container in spec.containers:
        mine = []
        for p in container.ports:
            if p.host_port < 0:
                continue
            host = p.host_port if p.host_port > 0 else picked.pop(0)
            tg.ports[p.name] = host
            mine.append(host)
        per_container.append(mine)
    for i, (_name, host) in enumerate(tg.ports.items()):
        port_env.append((f"PORT{i}", str(host)))
    agent = {"value": offer.agent_id}
    tasks = []
    for index, (container, ports) in enumerate(zip(spec.containers, per_container, strict=True)):
        task_id = f"{tg.id.rsplit('.', 1)[1]}.{index}.{tg.instance}.{tg.app}.{tg.namespace}.{cluster_id}"
        env = [
            *port_env,
            ("BCS_NODE_IP", tg.host_ip),
            ("BCS_CONTAINER_IP", tg.host_ip),
            ("BCS_POD_ID", tg.id),
            *((k, template_env(v, tg=tg, cluster_id=cluster_id, ports=tg.ports)) for k, v in container.env),
        ]
        resources = [scalar("cpus", container.cpus), scalar("mem", max(container.mem, 1.0))]
        if container.disk:
            resources.append(scalar("disk", container.disk))
        if ports:
            ranges = [{"begin": p, "end": p} for p in sorted(ports)]
            resources.append({"name": "ports", "type": "RANGES", "ranges": {"range": ranges}})
        command = " ".join([container.command, *container.args]).strip() or "sleep infinity"
        task: dict[str, Any] = {}
        check = next((h for h in container.health_checks if h.local), None)
        if check is not None:
            port = check.port or _check_port(check.port_name, container, tg.ports, spec.network_mode)
            task["health_check"] = health.to_mesos(check, port=port)
        tasks.append(
            {
                **task,
                "name": f"{tg.name}-{index}",
                "task_id": {"value": task_id},
                "agent_id": agent,
                "resources": resources,
                "command": {
                    "value": command,
                    "shell": True,
                    "environment": {"variables": [{"name": k, "value": v} for k, v in env]},
                },
                "container": {
                    "type": "MESOS",
                    "mesos": {"image": {"type": "DOCKER", "docker": {"name": container.image}}},
                },
                "kill_policy": {"grace_period": {"nanoseconds": spec.kill_grace * 1_000_000_000}},
                "labels": {"labels": [{"key": k, "value": v} for k, v in spec.labels.items()]},
            }
        )
        tg.tasks[task_id] = {"name": f"{tg.name}-{index}", "state": "Staging", "image": container.image}
        if check is not None:
            tg.tasks[task_id]["health"] = {"type": check.type, "healthy": None, "message": ""}
    executor = {
        "type": "DEFAULT",
        "executor_id": {"value": f"exec-{tg.id}"},
        "framework_id": {"value": framework_id},
        "resources": [scalar(k, v) for k, v in EXECUTOR.items()],
    }
    return {"type": "LAUNCH_GROUP", "launch_group": {"executor": executor, "task_group": {"tasks": tasks}}}
