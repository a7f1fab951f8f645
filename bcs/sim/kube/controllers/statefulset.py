"""StatefulSet controller: stable ordinals, OrderedReady/Parallel, ControllerRevisions, rolling update."""

from __future__ import annotations

import copy
from typing import Any

from bcs.sim.kube.controllers import workloads

__all__ = ["StatefulSetController"]


class StatefulSetController(workloads._Owned):
    name = "statefulset"
    watches = ("apps/statefulsets", "/pods")
    owner_key = "apps/statefulsets"

    def _revision(self, sts: dict[str, Any]) -> str:
        """The ControllerRevision for the current template (created if missing); returns its name."""
        cr_rt = self.reg.builtin("apps", "controllerrevisions")
        sts_rt = self.reg.builtin("apps", "statefulsets")
        meta = sts["metadata"]
        tmpl = (sts.get("spec") or {}).get("template") or {}
        name = f"{meta['name']}-{workloads.template_hash(tmpl)}"
        if self.api.find(cr_rt, meta.get("namespace"), name) is None:
            revs = workloads.owned(self.cl.store, meta["uid"], cr_rt)
            number = max([int(r.get("revision", 0)) for r in revs] or [0]) + 1
            cr = {
                "metadata": {
                    "name": name,
                    "labels": dict((tmpl.get("metadata") or {}).get("labels") or {}),
                    "ownerReferences": [workloads.controller_ref(sts, sts_rt)],
                },
                "data": {"spec": {"template": {**copy.deepcopy(tmpl), "$patch": "replace"}}},
                "revision": number,
            }
            self.api.create(cr_rt, meta.get("namespace"), cr)
        return name

    def reconcile(self, key: Any) -> None:
        sts_rt = self.reg.builtin("apps", "statefulsets")
        pods_rt = self.reg.builtin("", "pods")
        sts = self.api.find(sts_rt, key[0], key[1])
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        meta, spec = sts["metadata"], sts.get("spec") or {}
        ns, name = key
        replicas = int(spec.get("replicas", 1))
        rev = self._revision(sts)
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pods = {p["metadata"]["name"]: p for p in workloads.owned(self.cl.store, meta["uid"], pods_rt)}
        tmpl = spec.get("template") or {}
        busy = False
        for i in range(replicas):
            pname = f"{name}-{i}"
            pod = pods.get(pname)
            if pod is None:
                if self.api.find(pods_rt, ns, pname) is None:
                    self._create_pod(sts, sts_rt, tmpl, pname, i, rev)
                busy = True
                if ordered:
                    break
                continue
            if pod["metadata"].get("deletionTimestamp") or not workloads.pod_ready(pod):
                busy = True
                if ordered:
                    break
        extra = sorted(
            (p for n, p in pods.items() if self._ordinal(n, name) >= replicas),
            key=lambda p: -self._ordinal(p["metadata"]["name"], name),
        )
        for p in extra[:1] if ordered else extra:
            if not p["metadata"].get("deletionTimestamp"):
                self.api.delete(pods_rt, ns, p["metadata"]["name"])
            busy = True
        us = spec.get("updateStrategy") or {}
        if not busy and us.get("type", "RollingUpdate") == "RollingUpdate":
            partition = int((us.get("rollingUpdate") or {}).get("partition", 0))
            for i in reversed(range(partition, replicas)):
                pod = pods.get(f"{name}-{i}")
                if (
                    pod is not None
                    and (pod["metadata"].get("labels") or {}).get("controller-revision-hash") != rev
                ):
                    self.api.delete(pods_rt, ns, pod["metadata"]["name"])
                    break
        self._status(sts, sts_rt, rev)

    @staticmethod
    def _ordinal(pod_name: str, sts_name: str) -> int:
        tail = pod_name[len(sts_name) + 1 :]
        return int(tail) if tail.isdigit() else -1

    def _create_pod(
        self, sts: dict[str, Any], sts_rt: Any, tmpl: dict[str, Any], pname: str, i: int, rev: str
    ) -> None:
        pod = {
            "metadata": copy.deepcopy(tmpl.get("metadata") or {}),
            "spec": copy.deepcopy(tmpl.get("spec") or {}),
        }
        pm = pod["metadata"]
        pm["name"] = pname
        pm.setdefault("labels", {}).update(
            {
                "statefulset.kubernetes.io/pod-name": pname,
                "controller-revision-hash": rev,
                "apps.kubernetes.io/pod-index": str(i),
            }
        )
        pm["ownerReferences"] = [workloads.controller_ref(sts, sts_rt)]
        pod["spec"]["hostname"] = pname
        if (sts.get("spec") or {}).get("serviceName"):
            pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
        self.api.create(self.reg.builtin("", "pods"), sts["metadata"].get("namespace"), pod)
        self.cl.recorder.record(
            sts,
            sts_rt,
            "SuccessfulCreate",
            f"create Pod {pname} in StatefulSet {sts['metadata']['name']} successful",
            component="statefulset-controller",
        )

    def _status(self, sts: dict[str, Any], sts_rt: Any, rev: str) -> None:
        pods = [
            p
            for p in workloads.owned(self.cl.store, sts["metadata"]["uid"], self.reg.builtin("", "pods"))
            if not p["metadata"].get("deletionTimestamp")
        ]
        ready = sum(1 for p in pods if workloads.pod_ready(p))
        updated = sum(
            1 for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == rev
        )
        replicas = int((sts.get("spec") or {}).get("replicas", 1))
        current_rev = (
            rev if updated == len(pods) == replicas else (sts.get("status") or {}).get("currentRevision", rev)
        )
        st: dict[str, Any] = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "currentReplicas": updated if current_rev == rev else len(pods) - updated,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_rev,
            "updateRevision": rev,
            "collisionCount": 0,
        }
        for k in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not st[k]:
                del st[k]

        def edit(o: dict[str, Any]) -> Any:
            if o.get("status") == st:
                return False
            o["status"] = st
            return None

        self.api.mutate(sts_rt, sts["metadata"].get("namespace"), sts["metadata"]["name"], edit, sub="status")
