"""``meta.k8s.io/v1`` Table responses: the columns ``kubectl get`` prints, rendered server-side.

kubectl 1.32 has no client-side printers, so every column (Age included) is rendered here.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from bcs.sim.kube import resources, selectors, views

__all__ = ["age", "columns", "jsonpath", "pod_status_reason", "row", "table"]

Col = tuple[str, str, int, str]  # name, type, priority, description
Row = Callable[[dict[str, Any]], list[Any]]

_NAME: Col = ("Name", "string", 0, "Name must be unique within a namespace.")
_AGE: Col = (
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def _parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def age(ts: str | None, now: datetime.datetime | None = None) -> str:
    """A short human duration since ``ts``, as kubectl's HumanDuration prints it."""
    when = _parse_time(ts)
    if when is None:
        return "<unknown>"
    secs = int(((now or datetime.datetime.now(datetime.UTC)) - when).total_seconds())
    if secs < -1:
        return "<invalid>"
    secs = max(secs, 0)
    mins, hours, days = secs // 60, secs // 3600, secs // 86400
    if secs < 120:
        return f"{secs}s"
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    if hours < 8:
        return f"{hours}h{mins % 60}m" if mins % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    return f"{years}y{days % 365}d" if years < 8 else f"{years}y"


def _meta(o: dict[str, Any]) -> dict[str, Any]:
    return o.get("metadata") or {}


def _created(o: dict[str, Any]) -> str:
    return age(_meta(o).get("creationTimestamp"))


def pod_status_reason(pod: dict[str, Any]) -> str:
    st = pod.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Unknown"
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            term = state["terminated"]
            reason = term.get("reason") or (f"ExitCode:{term.get('exitCode', 0)}")
    if reason == "Pending" and (pod.get("spec") or {}).get("nodeName"):
        reason = "ContainerCreating"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _images(spec: dict[str, Any]) -> tuple[str, str]:
    cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _pod_row(o: dict[str, Any]) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    gates = spec.get("readinessGates") or []
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    gate_cell = (
        f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
        if gates
        else "<none>"
    )
    return [
        _meta(o).get("name"),
        f"{ready}/{len(spec.get('containers') or [])}",
        pod_status_reason(o),
        str(restarts),
        _created(o),
        st.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        st.get("nominatedNodeName") or "<none>",
        gate_cell,
    ]


def _workload_row(o: dict[str, Any], cells: list[Any]) -> list[Any]:
    names, images = _images(o.get("spec") or {})
    sel = selectors.to_string((o.get("spec") or {}).get("selector")) or "<none>"
    return [_meta(o).get("name"), *cells, _created(o), names, images, sel]


def _deploy_row(o: dict[str, Any]) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    return _workload_row(
        o,
        [
            f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0),
        ],
    )


def _rs_row(o: dict[str, Any]) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    return _workload_row(o, [spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0)])


def _sts_row(o: dict[str, Any]) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    return _workload_row(o, [f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}"])[:5]


def _svc_row(o: dict[str, Any]) -> list[Any]:
    spec = o.get("spec") or {}
    ports = []
    for p in spec.get("ports") or []:
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        ports.append(f"{s}/{p.get('protocol', 'TCP')}")
    ingress = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else spec.get("externalName") or "<none>"
    )
    sel = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"
    return [
        _meta(o).get("name"),
        spec.get("type"),
        spec.get("clusterIP") or "<none>",
        external,
        ",".join(ports) or "<none>",
        _created(o),
        sel,
    ]


def _ep_row(o: dict[str, Any]) -> list[Any]:
    addrs = []
    for ss in o.get("subsets") or []:
        for a in ss.get("addresses") or []:
            for p in ss.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else a.get("ip", ""))
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_meta(o).get("name"), shown or "<none>", _created(o)]


def _node_row(o: dict[str, Any]) -> list[Any]:
    st = o.get("status") or {}
    ready = next((c.get("status") for c in st.get("conditions") or [] if c.get("type") == "Ready"), "Unknown")
    state = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
    if (o.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = _meta(o).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    addrs = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    info = st.get("nodeInfo") or {}
    return [
        _meta(o).get("name"),
        state,
        ",".join(roles) or "<none>",
        _created(o),
        info.get("kubeletVersion", ""),
        addrs.get("InternalIP", "<none>"),
        addrs.get("ExternalIP", "<none>"),
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _event_row(o: dict[str, Any]) -> list[Any]:
    inv = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or _meta(o).get("creationTimestamp")
    src = o.get("source") or {}
    return [
        age(last),
        o.get("type", ""),
        o.get("reason", ""),
        f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}",
        inv.get("fieldPath", ""),
        ", ".join(v for v in (src.get("component"), src.get("host")) if v),
        o.get("message", ""),
        age(o.get("firstTimestamp") or last),
        o.get("count", 1),
        _meta(o).get("name"),
    ]


def _ds_row(o: dict[str, Any]) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    node_sel = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    names, images = _images(spec)
    cells = [
        st.get(k, 0)
        for k in (
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
        )
    ]
    return [
        _meta(o).get("name"),
        *cells,
        ",".join(f"{k}={v}" for k, v in node_sel.items()) or "<none>",
        _created(o),
        names,
        images,
        selectors.to_string(spec.get("selector")) or "<none>",
    ]


def _s(desc: str, name: str, prio: int = 0, typ: str = "string") -> Col:
    return (name, typ, prio, desc)


_COLUMNS: dict[str, tuple[list[Col], Row]] = {
    "/pods": (
        [
            _NAME,
            _s("", "Ready"),
            _s("", "Status"),
            _s("", "Restarts"),
            _AGE,
            _s("", "IP", 1),
            _s("", "Node", 1),
            _s("", "Nominated Node", 1),
            _s("", "Readiness Gates", 1),
        ],
        _pod_row,
    ),
    "apps/deployments": (
        [
            _NAME,
            _s("", "Ready"),
            _s("", "Up-to-date", typ="integer"),
            _s("", "Available", typ="integer"),
            _AGE,
            _s("", "Containers", 1),
            _s("", "Images", 1),
            _s("", "Selector", 1),
        ],
        _deploy_row,
    ),
    "apps/replicasets": (
        [
            _NAME,
            _s("", "Desired", typ="integer"),
            _s("", "Current", typ="integer"),
            _s("", "Ready", typ="integer"),
            _AGE,
            _s("", "Containers", 1),
            _s("", "Images", 1),
            _s("", "Selector", 1),
        ],
        _rs_row,
    ),
    "apps/statefulsets": (
        [_NAME, _s("", "Ready"), _AGE, _s("", "Containers", 1), _s("", "Images", 1)],
        _sts_row,
    ),
    "apps/daemonsets": (
        [
            _NAME,
            _s("", "Desired", typ="integer"),
            _s("", "Current", typ="integer"),
            _s("", "Ready", typ="integer"),
            _s("", "Up-to-date", typ="integer"),
            _s("", "Available", typ="integer"),
            _s("", "Node Selector"),
            _AGE,
            _s("", "Containers", 1),
            _s("", "Images", 1),
            _s("", "Selector", 1),
        ],
        _ds_row,
    ),
    "/services": (
        [
            _NAME,
            _s("", "Type"),
            _s("", "Cluster-IP"),
            _s("", "External-IP"),
            _s("", "Port(s)"),
            _AGE,
            _s("", "Selector", 1),
        ],
        _svc_row,
    ),
    "/endpoints": ([_NAME, _s("", "Endpoints"), _AGE], _ep_row),
    "/configmaps": (
        [_NAME, _s("", "Data", typ="integer"), _AGE],
        lambda o: [
            _meta(o).get("name"),
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _created(o),
        ],
    ),
    "/secrets": (
        [_NAME, _s("", "Type"), _s("", "Data", typ="integer"), _AGE],
        lambda o: [_meta(o).get("name"), o.get("type", ""), len(o.get("data") or {}), _created(o)],
    ),
    "/namespaces": (
        [_NAME, _s("", "Status"), _AGE],
        lambda o: [_meta(o).get("name"), (o.get("status") or {}).get("phase", ""), _created(o)],
    ),
    "/nodes": (
        [
            _NAME,
            _s("", "Status"),
            _s("", "Roles"),
            _AGE,
            _s("", "Version"),
            _s("", "Internal-IP", 1),
            _s("", "External-IP", 1),
            _s("", "OS-Image", 1),
            _s("", "Kernel-Version", 1),
            _s("", "Container-Runtime", 1),
        ],
        _node_row,
    ),
    "/events": (
        [
            _s("", "Last Seen"),
            _s("", "Type"),
            _s("", "Reason"),
            _s("", "Object"),
            _s("", "Subobject", 1),
            _s("", "Source", 1),
            _s("", "Message"),
            _s("", "First Seen", 1),
            _s("", "Count", 1, "integer"),
            _s("", "Name", 1),
        ],
        _event_row,
    ),
    "/serviceaccounts": (
        [_NAME, _s("", "Secrets", typ="integer"), _AGE],
        lambda o: [_meta(o).get("name"), len(o.get("secrets") or []), _created(o)],
    ),
    "apps/controllerrevisions": (
        [_NAME, _s("", "Controller"), _s("", "Revision", typ="integer"), _AGE],
        lambda o: [
            _meta(o).get("name"),
            next(
                (
                    f"{r.get('kind', '').lower()}.apps/{r.get('name')}"
                    for r in _meta(o).get("ownerReferences") or []
                ),
                "<none>",
            ),
            o.get("revision", 0),
            _created(o),
        ],
    ),
    "coordination.k8s.io/leases": (
        [_NAME, _s("", "Holder"), _AGE],
        lambda o: [_meta(o).get("name"), (o.get("spec") or {}).get("holderIdentity", ""), _created(o)],
    ),
    "apiextensions.k8s.io/customresourcedefinitions": (
        [_NAME, _s("", "Created At", typ="date")],
        lambda o: [_meta(o).get("name"), _meta(o).get("creationTimestamp")],
    ),
    "apiregistration.k8s.io/apiservices": (
        [_NAME, _s("", "Service"), _s("", "Available"), _AGE],
        lambda o: [
            _meta(o).get("name"),
            "Local"
            if not (o.get("spec") or {}).get("service")
            else f"{o['spec']['service'].get('namespace')}/{o['spec']['service'].get('name')}",
            next(
                (
                    c.get("status")
                    for c in (o.get("status") or {}).get("conditions") or []
                    if c.get("type") == "Available"
                ),
                "True",
            ),
            _created(o),
        ],
    ),
}


_EVENTS_VIEW = next(rt for rt in resources.BUILTINS if rt.own_key == "events.k8s.io/events")
_COLUMNS["events.k8s.io/events"] = (
    _COLUMNS["/events"][0],
    lambda o: _event_row(views.from_view(_EVENTS_VIEW, o, _EVENTS_VIEW)),
)

_SEG = re.compile(r"\.?([^.\[]+)|\[(\d+)\]|\[\?\(@\.([^=]+)==[\"']?([^\"')]*)[\"']?\)\]")


def jsonpath(obj: Any, path: str) -> Any:
    """A tiny JSONPath for printer columns: ``.a.b``, ``.a[0]``, ``.a[?(@.type=="Ready")].status``."""
    cur = obj
    for name, index, fkey, fval in _SEG.findall(path.strip().lstrip("{").rstrip("}")):
        if cur is None:
            return None
        if name:
            cur = cur.get(name) if isinstance(cur, dict) else None
        elif index:
            cur = cur[int(index)] if isinstance(cur, list) and int(index) < len(cur) else None
        elif fkey:
            cur = next((i for i in cur or [] if isinstance(i, dict) and str(i.get(fkey)) == fval), None)
    return cur


def _custom(rt: resources.ResourceType) -> tuple[list[Col], Row]:
    printer = (rt.crd or {}).get("additionalPrinterColumns") or []
    if not printer:
        return [_NAME, _AGE], lambda o: [_meta(o).get("name"), _created(o)]
    cols: list[Col] = [_NAME]
    for c in printer:
        cols.append(
            (c.get("name", ""), c.get("type", "string"), int(c.get("priority", 0)), c.get("description", ""))
        )

    def render(o: dict[str, Any]) -> list[Any]:
        cells: list[Any] = [_meta(o).get("name")]
        for c in printer:
            value = jsonpath(o, c.get("jsonPath", ""))
            if c.get("type") == "date":
                value = age(value) if value else "<unknown>"
            elif value is None:
                value = "<none>" if c.get("type") == "string" else None
            elif isinstance(value, (dict, list)):
                value = str(value)
            cells.append(value)
        return cells

    return cols, render


def columns(rt: resources.ResourceType) -> tuple[list[Col], Row]:
    if rt.is_custom:
        return _custom(rt)
    return _COLUMNS.get(rt.own_key) or ([_NAME, _AGE], lambda o: [_meta(o).get("name"), _created(o)])


def _defs(cols: list[Col]) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "type": t,
            "format": "name" if n == "Name" and i == 0 else "",
            "description": d,
            "priority": p,
        }
        for i, (n, t, p, d) in enumerate(cols)
    ]


def row(rt: resources.ResourceType, obj: dict[str, Any], render: Row, include: str) -> dict[str, Any]:
    out: dict[str, Any] = {"cells": render(obj)}
    if include == "Object":
        out["object"] = obj
    elif include != "None":
        out["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {}),
        }
    return out


def table(
    rt: resources.ResourceType,
    objs: list[dict[str, Any]],
    *,
    include: str = "Metadata",
    rv: str = "",
    cont: str = "",
    with_defs: bool = True,
) -> dict[str, Any]:
    cols, render = columns(rt)
    meta: dict[str, Any] = {}
    if rv:
        meta["resourceVersion"] = rv
    if cont:
        meta["continue"] = cont
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": _defs(cols) if with_defs else [],
        "rows": [row(rt, o, render, include) for o in objs],
    }
