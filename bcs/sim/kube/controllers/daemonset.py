"""DaemonSet controller: one pod per eligible node (bound through node affinity, like upstream)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from bcs.sim.kube import store
from bcs.sim.kube.controllers import scheduler, workloads

__all__ = ["DaemonSetController"]

_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


class DaemonSetController(workloads._Owned):
    name = "daemonset"
    watches = ("apps/daemonsets", "/pods", "/nodes")
    owner_key = "apps/daemonsets"

    def keys_for(self, ev: store.Event) -> Iterable[Any]:
        if ev.key == "/nodes":
            return (
                list(self.owners.values())
                if ev.type != "MODIFIED" or ev.old is None or ev.old.labels != ev.obj.labels
                else ()
            )
        return super().keys_for(ev)

    def _eligible(self, node: dict[str, Any], pod_spec: dict[str, Any]) -> bool:
        labels = node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
            return False
        tolerations = (pod_spec.get("tolerations") or []) + _TOLERATIONS
        return all(
            t.get("effect") not in ("NoSchedule", "NoExecute") or scheduler._tolerates(tolerations, t)
            for t in (node.get("spec") or {}).get("taints") or []
        )

    def reconcile(self, key: Any) -> None:
        ds_rt = self.reg.builtin("apps", "daemonsets")
        pods_rt = self.reg.builtin("", "pods")
        ds = self.api.find(ds_rt, key[0], key[1])
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        spec = ds.get("spec") or {}
        tmpl = spec.get("template") or {}
        h = workloads.template_hash(tmpl)
        nodes = [o.decode() for o in self.cl.store.iter(self.reg.builtin("", "nodes"))]
        eligible = {n["metadata"]["name"] for n in nodes if self._eligible(n, tmpl.get("spec") or {})}
        pods = [
            p
            for p in workloads.owned(self.cl.store, ds["metadata"]["uid"], pods_rt)
            if not p["metadata"].get("deletionTimestamp")
        ]
        by_node: dict[str, dict[str, Any]] = {}
        for p in pods:
            target = self._target(p)
            if target not in eligible or target in by_node:
                self.api.delete(pods_rt, key[0], p["metadata"]["name"])
            else:
                by_node[target] = p
        for node in sorted(eligible - set(by_node)):
            self._create_pod(ds, ds_rt, tmpl, node, h)
        stale = [
            p
            for p in by_node.values()
            if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != h
        ]
        if stale and all(workloads.pod_ready(p) for p in by_node.values()):
            self.api.delete(pods_rt, key[0], stale[0]["metadata"]["name"])
        self._status(ds, ds_rt, eligible, h)

    @staticmethod
    def _target(pod: dict[str, Any]) -> str:
        terms = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution", {}
        ).get("nodeSelectorTerms") or []
        for t in terms:
            for f in t.get("matchFields") or []:
                if f.get("key") == "metadata.name" and f.get("values"):
                    return f["values"][0]
        return (pod.get("spec") or {}).get("nodeName", "")

    def _create_pod(self, ds: dict[str, Any], ds_rt: Any, tmpl: dict[str, Any], node: str, h: str) -> None:
        pod = {
            "metadata": copy.deepcopy(tmpl.get("metadata") or {}),
            "spec": copy.deepcopy(tmpl.get("spec") or {}),
        }
        pm, ps = pod["metadata"], pod["spec"]
        pm["generateName"] = f"{ds['metadata']['name']}-"
        pm.setdefault("labels", {})["controller-revision-hash"] = h
        pm["ownerReferences"] = [workloads.controller_ref(ds, ds_rt)]
        ps["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
                    ]
                }
            }
        }
        ps["tolerations"] = (ps.get("tolerations") or []) + [
            t for t in _TOLERATIONS if t not in (ps.get("tolerations") or [])
        ]
        self.api.create(self.reg.builtin("", "pods"), ds["metadata"].get("namespace"), pod)

    def _status(self, ds: dict[str, Any], ds_rt: Any, eligible: set[str], h: str) -> None:
        pods = [
            p
            for p in workloads.owned(self.cl.store, ds["metadata"]["uid"], self.reg.builtin("", "pods"))
            if not p["metadata"].get("deletionTimestamp")
        ]
        ready = sum(1 for p in pods if workloads.pod_ready(p))
        st = {
            "currentNumberScheduled": len(pods),
            "numberMisscheduled": 0,
            "desiredNumberScheduled": len(eligible),
            "numberReady": ready,
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": sum(
                1 for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == h
            ),
            "numberAvailable": ready,
        }
        if len(eligible) - ready > 0:
            st["numberUnavailable"] = len(eligible) - ready

        def edit(o: dict[str, Any]) -> Any:
            if o.get("status") == st:
                return False
            o["status"] = st
            return None

        self.api.mutate(ds_rt, ds["metadata"].get("namespace"), ds["metadata"]["name"], edit, sub="status")
