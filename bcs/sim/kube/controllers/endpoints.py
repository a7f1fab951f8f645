"""Endpoints controller: keeps one Endpoints object per Service with a selector."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bcs.sim.kube import selectors, store
from bcs.sim.kube.controllers import workloads

__all__ = ["EndpointsController"]


class EndpointsController(workloads.base.Controller):
    name = "endpoints"
    watches = ("/services", "/pods")

    def __init__(self, cl: Any) -> None:
        super().__init__(cl)
        self.services: dict[tuple[str, str], tuple[selectors.Requirement, ...]] = {}

    def keys_for(self, ev: store.Event) -> Iterable[Any]:
        key = (ev.obj.ns, ev.obj.name)
        if ev.key == "/services":
            if ev.type == "DELETED":
                self.services.pop(key, None)
            else:
                sel = (ev.obj.decode().get("spec") or {}).get("selector")
                if sel:
                    self.services[key] = tuple((k, "=", (v,)) for k, v in sel.items())
                else:
                    self.services.pop(key, None)
                    return ()
            return (key,)
        out = []
        for skey, reqs in self.services.items():
            if skey[0] != ev.obj.ns:
                continue
            if selectors.matches(reqs, ev.obj.labels) or (
                ev.old is not None and selectors.matches(reqs, ev.old.labels)
            ):
                out.append(skey)
        return out

    def reconcile(self, key: Any) -> None:
        svc_rt = self.reg.builtin("", "services")
        ep_rt = self.reg.builtin("", "endpoints")
        pods_rt = self.reg.builtin("", "pods")
        ns, name = key
        svc = self.api.find(svc_rt, ns, name)
        current = self.api.find(ep_rt, ns, name)
        if svc is None or not (svc.get("spec") or {}).get("selector"):
            if svc is None and current is not None:
                self.api.delete(ep_rt, ns, name)
            return
        spec = svc["spec"]
        reqs = tuple((k, "=", (v,)) for k, v in spec["selector"].items())
        pods, _, _ = self.cl.store.select(pods_rt, ns, reqs)
        ready, not_ready = [], []
        named: dict[str, int] = {}
        for obj in pods:
            pod = obj.decode()
            st = pod.get("status") or {}
            if not st.get("podIP") or pod["metadata"].get("deletionTimestamp"):
                continue
            addr = {
                "ip": st["podIP"],
                "nodeName": pod["spec"].get("nodeName"),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": ns,
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            }
            (ready if workloads.pod_ready(pod) else not_ready).append(addr)
            for c in pod["spec"].get("containers") or []:
                for p in c.get("ports") or []:
                    if p.get("name"):
                        named.setdefault(p["name"], p.get("containerPort"))
        ports = []
        for p in spec.get("ports") or []:
            target = p.get("targetPort", p.get("port"))
            port = named.get(target) if isinstance(target, str) else target
            if port is None:
                continue
            entry = {"port": port, "protocol": p.get("protocol", "TCP")}
            if p.get("name"):
                entry["name"] = p["name"]
            ports.append(entry)
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
        subsets = [dict(subset, ports=ports)] if subset and ports else []
        labels = dict(svc["metadata"].get("labels") or {})
        if current is None:
            body: dict[str, Any] = {"metadata": {"name": name, "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            self.api.create(ep_rt, ns, body)
            return

        def edit(o: dict[str, Any]) -> Any:
            if (o.get("subsets") or []) == subsets and (o["metadata"].get("labels") or {}) == labels:
                return False
            if subsets:
                o["subsets"] = subsets
            else:
                o.pop("subsets", None)
            o["metadata"]["labels"] = labels
            return None

        self.api.mutate(ep_rt, ns, name, edit)
