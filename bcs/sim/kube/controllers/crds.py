"""CustomResourceDefinition controller: reports NamesAccepted/Established in CRD status."""

from __future__ import annotations

from typing import Any

from bcs.sim.kube.controllers import base

__all__ = ["CrdController"]


class CrdController(base.Controller):
    name = "crd"
    watches = ("apiextensions.k8s.io/customresourcedefinitions",)

    def keys_for(self, ev: Any) -> Any:
        return () if ev.type == "DELETED" else (ev.obj.name,)

    def reconcile(self, key: Any) -> None:
        rt = self.reg.builtin("apiextensions.k8s.io", "customresourcedefinitions")
        now = self.cl.now()

        def edit(o: dict[str, Any]) -> Any:
            spec = o.get("spec") or {}
            st = o.setdefault("status", {})
            names = spec.get("names") or {}
            accepted = {**names}
            accepted.setdefault("singular", str(names.get("kind", "")).lower())
            accepted.setdefault("listKind", f"{names.get('kind', '')}List")
            conds = [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                },
                {
                    "type": "Established",
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                },
            ]
            old = {c.get("type"): c for c in st.get("conditions") or []}
            for c in conds:
                if old.get(c["type"], {}).get("status") == c["status"]:
                    c["lastTransitionTime"] = old[c["type"]].get("lastTransitionTime", now)
            stored = list(st.get("storedVersions") or [])
            stored += [
                v.get("name")
                for v in spec.get("versions") or []
                if v.get("storage") and v.get("name") not in stored
            ]
            new = {"acceptedNames": accepted, "conditions": conds, "storedVersions": stored}
            if st == new:
                return False
            o["status"] = new
            return None

        self.api.mutate(rt, None, key, edit, sub="status")
