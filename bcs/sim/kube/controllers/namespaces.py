"""Namespace lifecycle: default ServiceAccount and root-CA ConfigMap in new namespaces; a
terminating namespace has its contents deleted and is then finalized."""

from __future__ import annotations

import contextlib
from typing import Any

from bcs.sim.kube import status
from bcs.sim.kube.controllers import base

__all__ = ["NamespaceController"]

_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
    "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
    "distributions of Kubernetes clusters."
)


class NamespaceController(base.Controller):
    name = "namespace"
    watches = ("/namespaces",)

    def keys_for(self, ev: Any) -> Any:
        return () if ev.type == "DELETED" else (ev.obj.name,)

    def reconcile(self, key: Any) -> None:
        ns_rt = self.reg.builtin("", "namespaces")
        ns = self.api.find(ns_rt, None, key)
        if ns is None:
            return
        if not ns["metadata"].get("deletionTimestamp"):
            self._populate(key)
            return
        remaining = 0
        for rt in self.reg.stored():
            if not rt.namespaced or rt.version != self.reg.group_versions()[rt.group][0]:
                continue
            for obj in list(self.cl.store.iter(rt, key)):
                remaining += 1
                if b'"deletionTimestamp"' in obj.raw:
                    continue
                with contextlib.suppress(status.ApiError):
                    self.api.delete(rt, key, obj.name, {"propagationPolicy": "Background"})
        if remaining:
            self.enqueue_later(key, 0.05)
            return
        self.api.finalize_namespace(key)

    def _populate(self, ns: str) -> None:
        sa_rt = self.reg.builtin("", "serviceaccounts")
        cm_rt = self.reg.builtin("", "configmaps")
        try:
            if self.api.find(sa_rt, ns, "default") is None:
                self.api.create(sa_rt, ns, {"metadata": {"name": "default"}})
            if self.api.find(cm_rt, ns, "kube-root-ca.crt") is None:
                self.api.create(
                    cm_rt,
                    ns,
                    {
                        "metadata": {
                            "name": "kube-root-ca.crt",
                            "annotations": {"kubernetes.io/description": _CA_DESCRIPTION},
                        },
                        "data": {"ca.crt": self.cl.ca_pem.decode()},
                    },
                )
        except status.ApiError:
            pass  # the namespace started terminating meanwhile
