"""The bk-bcs Mesos objects (``apiVersion: v4``): application, deployment, service, configmap, secret.

:func:`parse` validates a submitted JSON document and returns typed specs; every error is a
BadRequest naming the offending field by its JSON path (``spec.template.spec.containers[0].image``),
raised before anything is stored or launched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from bcs.core.offers import constraints
from bcs.plugins.mesos import health
from bcs.plugins.mesos.fields import bad as _bad
from bcs.plugins.mesos.fields import integer as _int
from bcs.plugins.mesos.fields import listing as _list
from bcs.plugins.mesos.fields import obj as _obj
from bcs.plugins.mesos.fields import quantity as _quantity
from bcs.plugins.mesos.fields import str_map as _str_map

__all__ = [
    "DEFAULT_NAMESPACE",
    "AppSpec",
    "Container",
    "DeploymentSpec",
    "PlainObject",
    "PortSpec",
    "RestartPolicy",
    "Strategy",
    "parse",
]

DEFAULT_NAMESPACE = "defaultGroup"
KINDS = ("application", "deployment", "service", "configmap", "secret")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
POLICIES = ("Never", "Always", "OnFailure")


@attrs.frozen
class RestartPolicy:
    policy: str = "Always"
    interval: int = 5  # s before the first restart
    backoff: int = 10  # s added per further restart
    maxtimes: int = 0  # 0 = unlimited

    def delay(self, restarts: int) -> float:
        """Upstream: the n-th reschedule waits ``interval + (n-1)*backoff`` seconds."""
        return float(self.interval + max(0, restarts - 1) * self.backoff)

    def applies(self, reason: str) -> bool:
        """``reason`` is ``failed`` or ``lost``: Always covers both, OnFailure only failures."""
        return self.policy == "Always" or (self.policy == "OnFailure" and reason == "failed")


@attrs.frozen
class PortSpec:
    name: str
    container_port: int
    host_port: int  # 0 = pick one from the offer; < 0 = no mapping
    protocol: str = "TCP"


@attrs.frozen
class Container:
    image: str
    type: str = "DOCKER"
    command: str = ""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    ports: tuple[PortSpec, ...] = ()
    health_checks: tuple[health.HealthCheck, ...] = ()
    cpus: float = 0.0
    mem: float = 0.0
    disk: float = 0.0


@attrs.frozen
class AppSpec:
    """An application (or the template of a deployment)."""

    name: str
    namespace: str
    instances: int
    containers: tuple[Container, ...]
    labels: Mapping[str, str] = attrs.field(factory=dict)
    restart: RestartPolicy = attrs.field(factory=RestartPolicy)
    kill_grace: int = 10  # s
    constraint: constraints.Constraint = attrs.field(factory=constraints.Constraint)
    network_mode: str = "HOST"
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False)  # the submitted definition

    @property
    def cpus(self) -> float:
        return sum(c.cpus for c in self.containers)

    @property
    def mem(self) -> float:
        return sum(c.mem for c in self.containers)

    @property
    def disk(self) -> float:
        return sum(c.disk for c in self.containers)

    def template_key(self) -> Any:
        """What a rolling update compares: the containers, restart policy and constraint."""
        return (self.containers, self.restart, self.network_mode, self.constraint)


@attrs.frozen
class Strategy:
    max_unavailable: int = 1
    max_surge: int = 1
    upgrade_duration: int = 0  # s between steps
    rolling_order: str = "CreateFirst"
    manually: bool = False


@attrs.frozen
class DeploymentSpec:
    name: str
    namespace: str
    app: AppSpec
    strategy: Strategy
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen
class PlainObject:
    """service, configmap, secret: checked for shape and kept as submitted."""

    kind: str
    name: str
    namespace: str
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False)


def _metadata(doc: Mapping[str, Any]) -> tuple[str, str, dict[str, str]]:
    meta = _obj(doc.get("metadata"), "metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad(
            "metadata.name",
            f"{name!r} must be lower-case letters, digits and '-', starting with a letter (max 63)",
        )
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise _bad(
            "metadata.namespace", f"{namespace!r} must be letters, digits and '-', starting with a letter"
        )
    return name, namespace, _str_map(meta.get("labels"), "metadata.labels")


def _restart(data: Any) -> RestartPolicy:
    d = _obj(data, "restartPolicy", required=False)
    policy = d.get("policy") or "Always"
    if policy not in POLICIES:
        raise _bad("restartPolicy.policy", f"must be one of {', '.join(POLICIES)}, not {policy!r}")
    return RestartPolicy(
        policy=policy,
        interval=_int(d.get("interval"), "restartPolicy.interval", default=5),
        backoff=_int(d.get("backoff"), "restartPolicy.backoff", default=10),
        maxtimes=_int(d.get("maxtimes"), "restartPolicy.maxtimes"),
    )


def _ports(data: Any, path: str) -> tuple[PortSpec, ...]:
    out = []
    names: set[str] = set()
    for i, p in enumerate(_list(data, path)):
        p = _obj(p, f"{path}[{i}]")
        name = p.get("name") or f"port{i}"
        if not isinstance(name, str) or name in names:
            raise _bad(f"{path}[{i}].name", f"{name!r} must be a unique string")
        names.add(name)
        cport = _int(p.get("containerPort"), f"{path}[{i}].containerPort", low=0)
        hport = p.get("hostPort", 0)
        if isinstance(hport, bool) or not isinstance(hport, int) or hport > 65535:
            raise _bad(f"{path}[{i}].hostPort", f"must be an integer <= 65535, not {hport!r}")
        protocol = p.get("protocol") or "TCP"
        if protocol not in ("TCP", "UDP", "HTTP"):
            raise _bad(f"{path}[{i}].protocol", f"must be TCP, UDP or HTTP, not {protocol!r}")
        out.append(PortSpec(name=name, container_port=cport, host_port=hport, protocol=protocol))
    return tuple(out)


def _container(data: Any, path: str) -> Container:
    c = _obj(data, path)
    image = c.get("image")
    if not isinstance(image, str) or not image.strip():
        raise _bad(f"{path}.image", "is required (a non-empty string)")
    ctype = c.get("type") or "DOCKER"
    if ctype not in ("DOCKER", "MESOS"):
        raise _bad(f"{path}.type", f"must be DOCKER or MESOS, not {ctype!r}")
    res = _obj(c.get("resources"), f"{path}.resources", required=False)
    limits = _obj(res.get("limits"), f"{path}.resources.limits", required=False)
    requests = _obj(res.get("requests"), f"{path}.resources.requests", required=False)
    # Offers must cover what the container asks for: requests when given, else limits.
    cpus = _quantity(requests.get("cpu"), f"{path}.resources.requests.cpu") or _quantity(
        limits.get("cpu"), f"{path}.resources.limits.cpu"
    )
    mem = _quantity(requests.get("memory"), f"{path}.resources.requests.memory") or _quantity(
        limits.get("memory"), f"{path}.resources.limits.memory"
    )
    disk = _quantity(limits.get("storage"), f"{path}.resources.limits.storage")
    if cpus <= 0:
        raise _bad(f"{path}.resources.limits.cpu", "a container needs a positive cpu request or limit")
    env = []
    for i, e in enumerate(_list(c.get("env"), f"{path}.env")):
        e = _obj(e, f"{path}.env[{i}]")
        if not isinstance(e.get("name"), str) or not e["name"]:
            raise _bad(f"{path}.env[{i}].name", "is required")
        env.append((e["name"], str(e.get("value") or "")))
    args = _list(c.get("args"), f"{path}.args")
    ports = _ports(c.get("ports"), f"{path}.ports")
    checks = tuple(
        health.parse(h, f"{path}.healthChecks[{i}]", {p.name for p in ports})
        for i, h in enumerate(_list(c.get("healthChecks"), f"{path}.healthChecks"))
    )
    return Container(
        image=image,
        type=ctype,
        command=str(c.get("command") or ""),
        args=tuple(str(a) for a in args),
        env=tuple(env),
        ports=ports,
        health_checks=checks,
        cpus=cpus,
        mem=mem,
        disk=disk,
    )


def _app(doc: Mapping[str, Any], *, instances_path: str = "spec.instance") -> AppSpec:
    name, namespace, labels = _metadata(doc)
    spec = _obj(doc.get("spec"), "spec")
    instances = _int(spec.get("instance"), instances_path, default=1)
    template = _obj(spec.get("template"), "spec.template")
    tspec = _obj(template.get("spec"), "spec.template.spec")
    raw_containers = _list(tspec.get("containers"), "spec.template.spec.containers")
    if not raw_containers:
        raise _bad("spec.template.spec.containers", "must list at least one container")
    containers = tuple(
        _container(c, f"spec.template.spec.containers[{i}]") for i, c in enumerate(raw_containers)
    )
    kill = _obj(doc.get("killPolicy"), "killPolicy", required=False)
    return AppSpec(
        name=name,
        namespace=namespace,
        instances=instances,
        containers=containers,
        labels=labels,
        restart=_restart(doc.get("restartPolicy")),
        kill_grace=_int(kill.get("gracePeriod"), "killPolicy.gracePeriod", default=10),
        constraint=constraints.parse(doc.get("constraint")),
        network_mode=str(tspec.get("networkMode") or "HOST"),
        raw=doc,
    )


def _strategy(data: Any) -> Strategy:
    s = _obj(data, "spec.strategy", required=False)
    kind = s.get("type") or "RollingUpdate"
    if kind != "RollingUpdate":
        raise _bad("spec.strategy.type", f"must be RollingUpdate, not {kind!r}")
    r = _obj(s.get("rollingupdate"), "spec.strategy.rollingupdate", required=False)
    # Upstream spells it maxUnavilable; the correct spelling is accepted too.
    unavailable_key = "maxUnavilable" if "maxUnavilable" in r else "maxUnavailable"
    unavailable = _int(r.get(unavailable_key), f"spec.strategy.rollingupdate.{unavailable_key}", default=1)
    surge = _int(r.get("maxSurge"), "spec.strategy.rollingupdate.maxSurge", default=1)
    if unavailable == 0 and surge == 0:
        raise _bad("spec.strategy.rollingupdate", "maxUnavilable and maxSurge cannot both be 0")
    order = r.get("rollingOrder") or "CreateFirst"
    if order not in ("CreateFirst", "DeleteFirst"):
        raise _bad(
            "spec.strategy.rollingupdate.rollingOrder", f"must be CreateFirst or DeleteFirst, not {order!r}"
        )
    manually = r.get("rollingManually", False)
    if not isinstance(manually, bool):
        raise _bad("spec.strategy.rollingupdate.rollingManually", "must be a boolean")
    return Strategy(
        max_unavailable=unavailable,
        max_surge=surge,
        upgrade_duration=_int(r.get("upgradeDuration"), "spec.strategy.rollingupdate.upgradeDuration"),
        rolling_order=order,
        manually=manually,
    )


def parse(doc: Any, *, kind: str | None = None) -> AppSpec | DeploymentSpec | PlainObject:
    """Validate one submitted object (``kind`` = what the route expects)."""
    if not isinstance(doc, Mapping):
        raise _bad("body", "must be a JSON object")
    if doc.get("apiVersion") != "v4":
        raise _bad("apiVersion", f'must be "v4", not {doc.get("apiVersion")!r}')
    got = doc.get("kind")
    if got not in KINDS:
        raise _bad("kind", f"must be one of {', '.join(KINDS)}, not {got!r}")
    if kind is not None and got != kind:
        raise _bad("kind", f"this route takes {kind!r}, not {got!r}")
    if got == "application":
        return _app(doc)
    if got == "deployment":
        app = _app(doc)
        spec = _obj(doc.get("spec"), "spec")
        return DeploymentSpec(
            name=app.name, namespace=app.namespace, app=app, strategy=_strategy(spec.get("strategy")), raw=doc
        )
    name, namespace, _ = _metadata(doc)
    if got in ("configmap", "secret"):
        datas = _obj(doc.get("datas"), "datas", required=False)
        for key, item in datas.items():
            _obj(item, f"datas.{key}")
    if got == "service":
        spec = _obj(doc.get("spec"), "spec", required=False)
        for i, p in enumerate(_list(spec.get("ports"), "spec.ports")):
            _obj(p, f"spec.ports[{i}]")
    return PlainObject(kind=got, name=name, namespace=namespace, raw=doc)
