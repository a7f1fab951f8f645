"""ReplicaSet and Deployment controllers (rolling update with maxSurge/maxUnavailable, Recreate)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import orjson

from bcs.sim.kube import resources, store
from bcs.sim.kube.controllers import base

__all__ = ["DeploymentController", "ReplicaSetController", "owned", "pod_ready", "resolve", "template_hash"]

_SAFE = "bcdfghjklmnpqrstvwxz2456789"
REVISION = "deployment.kubernetes.io/revision"
BATCH = 500  # pods created or deleted per reconcile step; the rest follow on the next step


def template_hash(template: dict[str, Any], collisions: int = 0) -> str:
    """FNV-1a over the template, rendered with the safe alphabet (like pod-template-hash)."""
    h = 0x811C9DC5
    for b in orjson.dumps(template, option=orjson.OPT_SORT_KEYS) + (
        str(collisions).encode() if collisions else b""
    ):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(h))


def resolve(value: Any, total: int, *, round_up: bool) -> int:
    """An int-or-percent against ``total``."""
    if isinstance(value, str) and value.endswith("%"):
        frac = total * float(value[:-1]) / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def owned(st: store.Store, owner_uid: str, rt: resources.ResourceType) -> list[dict[str, Any]]:
    out = []
    for key, ns, name in sorted(st.dependents.get(owner_uid, ())):
        if key == rt.key:
            obj = st.get(rt, ns, name)
            if obj is not None:
                out.append(obj.decode())
    return out


def controller_ref(owner: dict[str, Any], rt: resources.ResourceType) -> dict[str, Any]:
    m = owner["metadata"]
    return {
        "apiVersion": rt.api_version,
        "kind": rt.kind,
        "name": m["name"],
        "uid": m["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


class _Owned(base.Controller):
    """Reconciles owners of ``child`` objects: child events enqueue their controller."""

    owner_key = ""
    child_key = "/pods"

    def __init__(self, cl: Any) -> None:
        super().__init__(cl)
        self.owners: dict[str, tuple[str, str]] = {}

    def keys_for(self, ev: store.Event) -> Iterable[Any]:
        if ev.key == self.owner_key:
            if ev.type == "DELETED":
                self.owners.pop(ev.obj.uid, None)
                return ()
            self.owners[ev.obj.uid] = (ev.obj.ns, ev.obj.name)
            return ((ev.obj.ns, ev.obj.name),)
        keys = [self.owners[u] for u in ev.obj.owners if u in self.owners]
        if ev.old is not None:
            keys += [self.owners[u] for u in ev.old.owners if u in self.owners and self.owners[u] not in keys]
        return keys


class ReplicaSetController(_Owned):
    name = "replicaset"
    watches = ("apps/replicasets", "/pods")
    owner_key = "apps/replicasets"

    def reconcile(self, key: Any) -> None:
        rs_rt = self.reg.builtin("apps", "replicasets")
        pods_rt = self.reg.builtin("", "pods")
        rs = self.api.find(rs_rt, key[0], key[1])
        if rs is None:
            return
        meta, spec = rs["metadata"], rs.get("spec") or {}
        pods = owned(self.cl.store, meta["uid"], pods_rt)
        active = [
            p
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        want = int(spec.get("replicas", 1))
        if not meta.get("deletionTimestamp"):
            if len(active) < want:
                tmpl = spec.get("template") or {}
                for _ in range(min(want - len(active), BATCH)):
                    pod = {
                        "metadata": copy.deepcopy(tmpl.get("metadata") or {}),
                        "spec": copy.deepcopy(tmpl.get("spec") or {}),
                    }
                    pm = pod["metadata"]
                    pm.pop("name", None)
                    pm["generateName"] = f"{meta['name']}-"
                    pm["ownerReferences"] = [controller_ref(rs, rs_rt)]
                    active.append(self.api.create(pods_rt, key[0], pod))
                if want - len(active) > 0:
                    self.enqueue_later(key, 0.01)
            elif len(active) > want:

                def rank(p: dict[str, Any]) -> tuple[int, int, str]:
                    st = p.get("status") or {}
                    stage = (
                        0
                        if not (p.get("spec") or {}).get("nodeName")
                        else 1
                        if st.get("phase") == "Pending"
                        else 2
                    )
                    return (stage, 1 if pod_ready(p) else 0, "~" + p["metadata"].get("creationTimestamp", ""))

                victims = sorted(active, key=rank)[: min(len(active) - want, BATCH)]
                for p in victims:
                    self.api.delete(pods_rt, key[0], p["metadata"]["name"])
                gone = {p["metadata"]["name"] for p in victims}
                active = [p for p in active if p["metadata"]["name"] not in gone]
        ready = sum(1 for p in active if pod_ready(p))
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        new_status = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1
                for p in active
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
            ),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta.get("generation", 1),
        }
        for k in ("readyReplicas", "availableReplicas"):
            if not new_status[k]:
                del new_status[k]

        def edit(o: dict[str, Any]) -> Any:
            if o.get("status") == new_status:
                return False
            o["status"] = new_status
            return None

        self.api.mutate(rs_rt, key[0], key[1], edit, sub="status")


class DeploymentController(_Owned):
    name = "deployment"
    watches = ("apps/deployments", "apps/replicasets")
    owner_key = "apps/deployments"
    child_key = "apps/replicasets"

    def reconcile(self, key: Any) -> None:
        d_rt = self.reg.builtin("apps", "deployments")
        rs_rt = self.reg.builtin("apps", "replicasets")
        d = self.api.find(d_rt, key[0], key[1])
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        meta, spec = d["metadata"], d.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        tmpl = spec.get("template") or {}
        h = template_hash(tmpl)
        rss = owned(self.cl.store, meta["uid"], rs_rt)
        new = next(
            (r for r in rss if (r["metadata"].get("labels") or {}).get("pod-template-hash") == h), None
        )
        old = [r for r in rss if r is not new]
        revision = max([int((r["metadata"].get("annotations") or {}).get(REVISION, 0)) for r in rss] or [0])
        strategy = spec.get("strategy") or {}
        if spec.get("paused"):
            self._status(d, new, rss, replicas)
            return
        if new is None:
            new = self._create_rs(d, h, revision + 1, 0)
            rss.append(new)
        elif int((new["metadata"].get("annotations") or {}).get(REVISION, 0)) < revision:
            self._set_rs(rs_rt, new, None, revision + 1)
        rev = (new["metadata"].get("annotations") or {}).get(REVISION, "1")
        if (meta.get("annotations") or {}).get(REVISION) != rev:

            def annotate(o: dict[str, Any]) -> None:
                o["metadata"].setdefault("annotations", {})[REVISION] = rev

            d = self.api.mutate(d_rt, key[0], key[1], annotate, sub="all") or d
        active_old = [r for r in old if int((r.get("spec") or {}).get("replicas", 0)) > 0]
        new_spec = int((new.get("spec") or {}).get("replicas", 0))
        if strategy.get("type") == "Recreate":
            for r in active_old:
                self._set_rs(rs_rt, r, 0)
            if not any(int((r.get("status") or {}).get("replicas", 0)) for r in old) and new_spec != replicas:
                self._set_rs(rs_rt, new, replicas)
        elif not active_old:
            if new_spec != replicas:
                self._set_rs(rs_rt, new, replicas)
        else:
            ru = strategy.get("rollingUpdate") or {}
            surge = resolve(ru.get("maxSurge", "25%"), replicas, round_up=True)
            unavailable = resolve(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
            if surge == 0 and unavailable == 0:
                unavailable = 1
            total = sum(int((r.get("spec") or {}).get("replicas", 0)) for r in rss)
            room = replicas + surge - total
            if room > 0 and new_spec < replicas:
                new_spec = min(replicas, new_spec + room)
                self._set_rs(rs_rt, new, new_spec)
                total += room
            new_avail = int((new.get("status") or {}).get("availableReplicas", 0))
            min_available = replicas - unavailable
            all_available = sum(int((r.get("status") or {}).get("availableReplicas", 0)) for r in rss)
            budget = min(total - min_available - (new_spec - new_avail), all_available - min_available)
            for r in sorted(active_old, key=lambda r: r["metadata"].get("creationTimestamp", "")):
                if budget <= 0:
                    break
                cur = int((r.get("spec") or {}).get("replicas", 0))
                cut = min(cur, budget)
                self._set_rs(rs_rt, r, cur - cut)
                budget -= cut
        self._cleanup(rs_rt, d, [r for r in rss if r is not new])
        self._status(
            d,
            self.api.find(rs_rt, key[0], new["metadata"]["name"]),
            owned(self.cl.store, meta["uid"], rs_rt),
            replicas,
        )

    def _create_rs(self, d: dict[str, Any], h: str, revision: int, replicas: int) -> dict[str, Any]:
        rs_rt = self.reg.builtin("apps", "replicasets")
        d_rt = self.reg.builtin("apps", "deployments")
        spec = d["spec"]
        tmpl = copy.deepcopy(spec.get("template") or {})
        tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        sel = copy.deepcopy(spec.get("selector") or {})
        sel.setdefault("matchLabels", {})["pod-template-hash"] = h
        rs = {
            "metadata": {
                "name": f"{d['metadata']['name']}-{h}",
                "labels": dict(tmpl["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                    "deployment.kubernetes.io/max-replicas": str(spec.get("replicas", 1)),
                },
                "ownerReferences": [controller_ref(d, d_rt)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": sel,
                "template": tmpl,
            },
        }
        created = self.api.create(rs_rt, d["metadata"].get("namespace"), rs)
        self.cl.recorder.record(
            d,
            self.reg.builtin("apps", "deployments"),
            "ScalingReplicaSet",
            f"Scaled up replica set {rs['metadata']['name']} from 0 to {replicas}",
            component="deployment-controller",
        )
        return created

    def _set_rs(
        self,
        rs_rt: resources.ResourceType,
        rs: dict[str, Any],
        replicas: int | None,
        revision: int | None = None,
    ) -> None:
        d_rt = self.reg.builtin("apps", "deployments")
        before = int((rs.get("spec") or {}).get("replicas", 0))

        def edit(o: dict[str, Any]) -> None:
            if replicas is not None:
                o["spec"]["replicas"] = replicas
            if revision is not None:
                o["metadata"].setdefault("annotations", {})[REVISION] = str(revision)

        self.api.mutate(rs_rt, rs["metadata"].get("namespace"), rs["metadata"]["name"], edit, sub="all")
        if replicas is not None and replicas != before:
            owner = next(
                (r for r in rs["metadata"].get("ownerReferences") or [] if r.get("controller")), None
            )
            d = self.api.find(d_rt, rs["metadata"].get("namespace"), owner["name"]) if owner else None
            if d is not None:
                verb = "up" if replicas > before else "down"
                self.cl.recorder.record(
                    d,
                    d_rt,
                    "ScalingReplicaSet",
                    f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {replicas}",
                    component="deployment-controller",
                )

    def _cleanup(self, rs_rt: resources.ResourceType, d: dict[str, Any], old: list[dict[str, Any]]) -> None:
        limit = int((d.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [
            r
            for r in old
            if not int((r.get("spec") or {}).get("replicas", 0))
            and not int((r.get("status") or {}).get("replicas", 0))
        ]
        idle.sort(key=lambda r: int((r["metadata"].get("annotations") or {}).get(REVISION, 0)))
        for r in idle[: max(0, len(idle) - limit)]:
            self.api.delete(rs_rt, r["metadata"].get("namespace"), r["metadata"]["name"])

    def _status(
        self, d: dict[str, Any], new: dict[str, Any] | None, rss: list[dict[str, Any]], replicas: int
    ) -> None:
        d_rt = self.reg.builtin("apps", "deployments")
        meta, spec = d["metadata"], d.get("spec") or {}

        def total(field: str, items: list[dict[str, Any]]) -> int:
            return sum(int((r.get("status") or {}).get(field, 0)) for r in items)

        updated = total("replicas", [new]) if new else 0
        available = total("availableReplicas", rss)
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavail = (
            resolve(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
            if (spec.get("strategy") or {}).get("type") != "Recreate"
            else 0
        )
        now = self.cl.now()
        complete = (
            new is not None
            and updated == replicas
            and total("replicas", rss) == replicas
            and available >= replicas
        )
        new_name = new["metadata"]["name"] if new else ""
        st: dict[str, Any] = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": total("replicas", rss),
            "updatedReplicas": updated,
            "readyReplicas": total("readyReplicas", rss),
            "availableReplicas": available,
            "unavailableReplicas": max(0, replicas - available),
        }
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"):
            if not st[k]:
                del st[k]
        is_avail = available >= replicas - max_unavail
        avail = (
            "Available",
            "True" if is_avail else "False",
            "MinimumReplicasAvailable" if is_avail else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if is_avail
            else "Deployment does not have minimum availability.",
        )
        prog = (
            "Progressing",
            "True",
            "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
            f'ReplicaSet "{new_name}" has successfully progressed.'
            if complete
            else f'ReplicaSet "{new_name}" is progressing.',
        )

        def edit(o: dict[str, Any]) -> Any:
            old = o.get("status") or {}
            conds = {c.get("type"): c for c in old.get("conditions") or []}
            out = []
            for typ, stat, reason, msg in (avail, prog):
                prev = conds.get(typ) or {}
                changed = prev.get("status") != stat
                out.append(
                    {
                        "type": typ,
                        "status": stat,
                        "lastUpdateTime": now
                        if changed or prev.get("reason") != reason
                        else prev.get("lastUpdateTime", now),
                        "lastTransitionTime": now if changed else prev.get("lastTransitionTime", now),
                        "reason": reason,
                        "message": msg,
                    }
                )
            st["conditions"] = out
            if {k: v for k, v in old.items() if k != "conditions"} == {
                k: v for k, v in st.items() if k != "conditions"
            } and [(c["type"], c["status"], c["reason"]) for c in old.get("conditions") or []] == [
                (c["type"], c["status"], c["reason"]) for c in out
            ]:
                return False
            o["status"] = st
            return None

        self.api.mutate(d_rt, meta.get("namespace"), meta["name"], edit, sub="status")
