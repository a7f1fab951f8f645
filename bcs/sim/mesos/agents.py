"""Simulated agents: resources, attributes, executors, and the attributes file that shapes them.

The attributes file (JSON or YAML) may be a list (one entry per agent, by index) or a mapping::

    defaults: {attributes: {zone: z1}}           # every agent
    patterns:                                    # in order, by hostname glob and/or index range
      - {match: "agent-[0-4]", attributes: {rack: r1}}
      - {index: "5-9", attributes: {rack: r2}}
    agents:                                      # per agent, by index (list or mapping)
      0: {hostname: node-a, ip: 10.1.0.1, attributes: {gpu: "true", weight: 2.5, tags: [a, b]}}

An entry may set ``hostname``, ``ip``, ``attributes`` and resources (``cpus``, ``mem``, ``disk``,
``ports``). Attribute values: a string is TEXT, a number SCALAR, a list SET, ``{"ranges": "1-5"}``
RANGES; a v1 attribute array is accepted as is. Later layers override earlier ones per name.
"""

from __future__ import annotations

import fnmatch
import json
import pathlib
import time
from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from bcs.sim.mesos import resources

__all__ = ["Agent", "Executor", "attribute_values", "load_spec", "make_agents"]


@attrs.define(eq=False)
class Executor:
    """A default or custom executor running on an agent for one framework."""

    framework_id: str
    executor_id: str
    agent_id: str
    kind: str  # DEFAULT | CUSTOM
    resources: resources.Resources
    info: dict[str, Any]
    tasks: set[str] = attrs.field(factory=set)


@attrs.define(eq=False)
class Agent:
    id: str
    index: int
    hostname: str
    ip: str
    total: resources.Resources
    attributes: list[dict[str, Any]]
    port: int = 5051
    used: resources.Resources = attrs.field(factory=resources.Resources)
    offered: resources.Resources = attrs.field(factory=resources.Resources)
    state: str = "active"  # active | unreachable | gone
    registered_time: float = attrs.field(factory=time.time)
    unreachable_time: float | None = None
    # (framework id, task id) of every task the agent runs (including unreachable ones)
    tasks: set[tuple[str, str]] = attrs.field(factory=set)
    executors: dict[tuple[str, str], Executor] = attrs.field(factory=dict)

    @property
    def active(self) -> bool:
        return self.state == "active"

    def available(self) -> resources.Resources:
        return self.total - self.used - self.offered

    def pid(self) -> str:
        return f"slave(1)@{self.ip}:{self.port}"

    def url(self) -> dict[str, Any]:
        address = {"hostname": self.hostname, "ip": self.ip, "port": self.port}
        return {"scheme": "http", "address": address, "path": "/slave(1)"}


def _attribute(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping) and "ranges" in value:
        ranges = value["ranges"]
        parsed = resources.parse_ranges(ranges) if isinstance(ranges, str) else [tuple(r) for r in ranges]
        rng = [{"begin": b, "end": e} for b, e in parsed]
        return {"name": name, "type": "RANGES", "ranges": {"range": rng}}
    if isinstance(value, bool):
        return {"name": name, "type": "TEXT", "text": {"value": str(value).lower()}}
    if isinstance(value, (int, float)):
        return {"name": name, "type": "SCALAR", "scalar": {"value": float(value)}}
    if isinstance(value, (list, tuple, set, frozenset)):
        return {"name": name, "type": "SET", "set": {"item": [str(v) for v in value]}}
    if isinstance(value, str):
        return {"name": name, "type": "TEXT", "text": {"value": value}}
    raise ValueError(f"attribute {name}: unsupported value {value!r}")


def _attributes(raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if isinstance(raw, list):  # already a v1 Attribute array
        return {a["name"]: dict(a) for a in raw}
    if isinstance(raw, Mapping):
        return {str(k): _attribute(str(k), v) for k, v in raw.items()}
    raise ValueError(f"attributes must be a mapping or a list, not {type(raw).__name__}")


def attribute_values(attrs_v1: list[dict[str, Any]]) -> dict[str, Any]:
    """The v0 ``/master/state`` form: ``{name: value}`` (ranges and sets as strings)."""
    out: dict[str, Any] = {}
    for a in attrs_v1:
        kind = a.get("type")
        if kind == "SCALAR":
            out[a["name"]] = a["scalar"]["value"]
        elif kind == "TEXT":
            out[a["name"]] = a["text"]["value"]
        elif kind == "SET":
            out[a["name"]] = "{" + ",".join(a["set"]["item"]) + "}"
        elif kind == "RANGES":
            ranges = [(r["begin"], r["end"]) for r in a["ranges"]["range"]]
            out[a["name"]] = resources.format_ranges(ranges)
    return out


def load_spec(path: str | pathlib.Path) -> Any:
    """Read an attributes file (``.json``, else YAML); a malformed one raises ValueError."""
    text = pathlib.Path(path).read_text()
    try:
        if str(path).endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _in_index(selector: Any, index: int) -> bool:
    if selector is None:
        return True
    if isinstance(selector, int):
        return selector == index
    if isinstance(selector, list):
        return index in selector
    return any(b <= index <= e for b, e in resources.parse_ranges(str(selector)))


def _layers(spec: Any, index: int, hostname: str) -> list[Mapping[str, Any]]:
    if spec is None:
        return []
    if isinstance(spec, list):
        return [spec[index]] if index < len(spec) and spec[index] else []
    if not isinstance(spec, Mapping):
        raise ValueError("the attributes file must hold a list or a mapping")
    layers = [spec.get("defaults") or {}]
    for pat in spec.get("patterns") or ():
        if fnmatch.fnmatchcase(hostname, str(pat.get("match", "*"))) and _in_index(pat.get("index"), index):
            layers.append(pat)
    entry = _agent_entry(spec, index)
    if entry:
        layers.append(entry)
    return layers


def _agent_entry(spec: Mapping[str, Any], index: int) -> Any:
    """Agent ``index``'s own entry under ``agents`` (a list, or a mapping by index), if any."""
    per_agent = spec.get("agents") or {}
    if isinstance(per_agent, list):
        return per_agent[index] if index < len(per_agent) else None
    return per_agent.get(index, per_agent.get(str(index)))


def _own_hostname(spec: Any, index: int) -> str:
    entry: Any = None
    if isinstance(spec, list) and index < len(spec):
        entry = spec[index]
    elif isinstance(spec, Mapping):
        entry = _agent_entry(spec, index)
    if isinstance(entry, Mapping) and entry.get("hostname"):
        return str(entry["hostname"])
    return f"agent-{index}"


def make_agents(
    count: int,
    *,
    master_id: str,
    cpus: float,
    mem: float,
    disk: float,
    ports: str,
    spec: Any = None,
) -> list[Agent]:
    out = []
    for i in range(count):
        hostname = _own_hostname(spec, i)
        fields: dict[str, Any] = {
            "ip": f"10.0.{i // 250}.{i % 250 + 1}",
            "cpus": cpus,
            "mem": mem,
            "disk": disk,
            "ports": ports,
        }
        attributes: dict[str, dict[str, Any]] = {}
        for layer in _layers(spec, i, hostname):
            fields.update({k: v for k, v in layer.items() if k in fields})
            attributes.update(_attributes(layer.get("attributes")))
        items: list[dict[str, Any]] = [
            {"name": n, "type": "SCALAR", "scalar": {"value": float(fields[n])}}
            for n in ("cpus", "mem", "disk")
            if float(fields[n]) > 0
        ]
        if fields["ports"]:
            rng = [{"begin": b, "end": e} for b, e in resources.parse_ranges(str(fields["ports"]))]
            items.append({"name": "ports", "type": "RANGES", "ranges": {"range": rng}})
        out.append(
            Agent(
                id=f"{master_id}-S{i}",
                index=i,
                hostname=hostname,
                ip=str(fields["ip"]),
                total=resources.Resources.parse(items),
                attributes=list(attributes.values()),
            )
        )
    return out
