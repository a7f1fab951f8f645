"""The scheduler: binds pending pods to nodes honouring nodeSelector, required node affinity,
taints/tolerations, cordoned/NotReady nodes and allocatable cpu, memory and pod count.

Like kube-scheduler on big clusters it scores only a sample of feasible nodes (the least loaded of
the first few found from a rotating start), which keeps binding O(1) per pod at 5,000 nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bcs.sim.kube import store
from bcs.sim.kube.controllers import base

__all__ = ["Scheduler", "quantity"]

_SUFFIX = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "m": 1e-3,
}
SAMPLE = 16


def quantity(value: Any) -> float:
    """A resource.Quantity as a float in base units (``100m`` -> 0.1, ``1Gi`` -> 2**30)."""
    text = str(value).strip()
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * _SUFFIX[suffix]
            except ValueError:
                return 0.0
    try:
        return float(text)
    except ValueError:
        return 0.0


def _requests(pod: dict[str, Any]) -> tuple[float, float]:
    cpu = mem = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits") or {}
        cpu += quantity(req.get("cpu", 0))
        mem += quantity(req.get("memory", 0))
    return cpu, mem


def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        op = t.get("operator", "Equal")
        if op == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if (
            op == "Equal"
            and t.get("key") == taint.get("key")
            and t.get("value", "") == taint.get("value", "")
        ):
            return True
    return False


def _expr_ok(expr: dict[str, Any], value: str | None) -> bool:
    op, values = expr.get("operator"), expr.get("values") or []
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            return int(value) > int(values[0]) if op == "Gt" else int(value) < int(values[0])
        except ValueError:
            return False
    return False


class _Node:
    __slots__ = (
        "alloc_cpu",
        "alloc_mem",
        "alloc_pods",
        "cpu",
        "labels",
        "mem",
        "name",
        "pods",
        "ready",
        "taints",
        "unschedulable",
    )

    def __init__(self, node: dict[str, Any]) -> None:
        self.name = node["metadata"]["name"]
        self.labels = node["metadata"].get("labels") or {}
        spec, st = node.get("spec") or {}, node.get("status") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        self.ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or []
        )
        alloc = st.get("allocatable") or st.get("capacity") or {}
        self.alloc_cpu = quantity(alloc.get("cpu", "0"))
        self.alloc_mem = quantity(alloc.get("memory", "0"))
        self.alloc_pods = int(quantity(alloc.get("pods", "110")))
        self.cpu = self.mem = 0.0
        self.pods = 0


class Scheduler(base.Controller):
    name = "scheduler"
    watches = ("/pods", "/nodes")

    def __init__(self, cl: Any) -> None:
        super().__init__(cl)
        self.pods_rt = self.reg.builtin("", "pods")
        self.nodes_rt = self.reg.builtin("", "nodes")
        self.nodes: dict[str, _Node] = {}
        self.order: list[str] = []
        self.placed: dict[tuple[str, str], tuple[str, float, float]] = {}
        self.pending: set[tuple[str, str]] = set()
        self._cursor = 0
        self._failed: dict[tuple[str, str], str] = {}

    def keys_for(self, ev: store.Event) -> Iterable[Any]:
        obj = ev.obj
        if ev.key == "/nodes":
            self._node_event(ev)
            return [("pod", *k) for k in self.pending]
        key = (obj.ns, obj.name)
        node = obj.fields[0]  # spec.nodeName is the first pod field path
        if ev.type == "DELETED" or (node and key not in self.placed):
            self._account(key, None if ev.type == "DELETED" else obj)
        if ev.type == "DELETED":
            self.pending.discard(key)
            return ()
        if not node:
            self.pending.add(key)
            return (("pod", *key),)
        self.pending.discard(key)
        return ()

    def _account(self, key: tuple[str, str], obj: store.Obj | None) -> None:
        prev = self.placed.pop(key, None)
        if prev is not None and prev[0] in self.nodes:
            n = self.nodes[prev[0]]
            n.pods -= 1
            n.cpu -= prev[1]
            n.mem -= prev[2]
        if obj is not None and obj.fields[0]:
            cpu, mem = _requests(obj.decode())
            self.placed[key] = (obj.fields[0], cpu, mem)
            n = self.nodes.get(obj.fields[0])
            if n is not None:
                n.pods += 1
                n.cpu += cpu
                n.mem += mem

    def _node_event(self, ev: store.Event) -> None:
        name = ev.obj.name
        if ev.type == "DELETED":
            self.nodes.pop(name, None)
            self.order = [n for n in self.order if n != name]
            return
        old = self.nodes.get(name)
        new = _Node(ev.obj.decode())
        if old is not None:
            new.cpu, new.mem, new.pods = old.cpu, old.mem, old.pods
        else:
            self.order.append(name)
            for _key, (node, cpu, mem) in self.placed.items():
                if node == name:
                    new.pods += 1
                    new.cpu += cpu
                    new.mem += mem
        self.nodes[name] = new

    def _feasible(self, n: _Node, pod: dict[str, Any], cpu: float, mem: float) -> str | None:
        spec = pod.get("spec") or {}
        if not n.ready or n.unschedulable:
            return "node(s) were unschedulable" if n.unschedulable else "node(s) were not ready"
        sel = spec.get("nodeSelector") or {}
        if any(n.labels.get(k) != v for k, v in sel.items()):
            return "node(s) didn't match Pod's node affinity/selector"
        req = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        terms = req.get("nodeSelectorTerms") or []
        if terms and not any(
            all(_expr_ok(e, n.labels.get(e.get("key", ""))) for e in t.get("matchExpressions") or [])
            and all(
                _expr_ok(e, n.name if e.get("key") == "metadata.name" else None)
                for e in t.get("matchFields") or []
            )
            for t in terms
        ):
            return "node(s) didn't match Pod's node affinity/selector"
        tolerations = spec.get("tolerations") or []
        for taint in n.taints:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
                return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
        if n.pods + 1 > n.alloc_pods:
            return "Too many pods"
        if cpu and n.cpu + cpu > n.alloc_cpu:
            return "Insufficient cpu"
        if mem and n.mem + mem > n.alloc_mem:
            return "Insufficient memory"
        return None

    def reconcile(self, key: Any) -> None:
        _, ns, name = key
        obj = self.cl.store.get(self.pods_rt, ns, name)
        if obj is None or obj.fields[0]:
            return
        pod = obj.decode()
        spec, meta = pod.get("spec") or {}, pod["metadata"]
        if (
            meta.get("deletionTimestamp")
            or spec.get("schedulerName", "default-scheduler") != "default-scheduler"
        ):
            return
        if spec.get("schedulingGates"):
            return
        cpu, mem = _requests(pod)
        best: _Node | None = None
        found = 0
        reasons: dict[str, int] = {}
        total = len(self.order)
        for i in range(total):
            n = self.nodes[self.order[(self._cursor + i) % total]]
            why = self._feasible(n, pod, cpu, mem)
            if why:
                reasons[why] = reasons.get(why, 0) + 1
                continue
            found += 1
            if best is None or n.pods < best.pods:
                best = n
            if found >= SAMPLE:
                break
        self._cursor = (self._cursor + 1) % max(total, 1)
        if best is None:
            detail = ", ".join(f"{c} {r}" for r, c in sorted(reasons.items()))
            message = (
                f"0/{total} nodes are available: {detail}."
                if total
                else "no nodes available to schedule pods"
            )
            self._unschedulable(pod, message)
            return
        self.cl.bind_pod(ns, name, best.name)

    def _unschedulable(self, pod: dict[str, Any], message: str) -> None:
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if self._failed.get(key) == message:
            return
        self._failed[key] = message
        now = self.cl.now()

        def mark(p: dict[str, Any]) -> None:
            conds = [
                c
                for c in (p.setdefault("status", {}).get("conditions") or [])
                if c.get("type") != "PodScheduled"
            ]
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": now,
                    "reason": "Unschedulable",
                    "message": message,
                }
            )
            p["status"]["conditions"] = conds

        self.api.mutate(self.pods_rt, key[0], key[1], mark, sub="status")
        self.cl.recorder.record(
            pod, self.pods_rt, "FailedScheduling", message, component="default-scheduler", type_="Warning"
        )
