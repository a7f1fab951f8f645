"""The skeleton both game-workload controllers share: informers, work queue, metrics (the workers
are :class:`bcs.plugins.k8s.operators.base.Controller`'s).

Informers follow the workload kind, pods, ControllerRevisions, HookRuns and nodes (for the node
deletion cost). Pod, revision and HookRun events requeue their controlling workload. A subclass
implements :meth:`WorkloadController.reconcile` (returns seconds until the key needs another look, or
None) and gets pods, revisions and owner references from the caches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from bcs.plugins.k8s.kube import client, informer, workqueue
from bcs.plugins.k8s.operators import base
from bcs.plugins.k8s.operators.hook import model as hook_model
from bcs.plugins.k8s.operators.workload import events, expectations, hooks, revisions
from bcs.plugins.k8s.operators.workload import metrics as wl_metrics
from bcs.plugins.k8s.operators.workload import pods as podutil

__all__ = ["PODS", "NODES", "WorkloadController", "owner_ref", "controller_of"]

logger = logging.getLogger(__name__)

PODS = client.Resource("", "v1", "pods", "Pod")
NODES = client.Resource("", "v1", "nodes", "Node", namespaced=False)


def owner_ref(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


class WorkloadController(base.Controller):
    """Runs reconciles of one workload kind until cancelled (see the module docstring)."""

    resource: client.Resource
    component = "bcs-workload-operator"
    metrics_kind = "workload"
    log = logger

    def __init__(self, kube: client.KubeClient, *, namespace: str | None = None, workers: int = 2) -> None:
        self.kube = kube
        self.namespace = namespace
        self.workers = workers
        self.informer = informer.Informer(kube, self.resource, namespace=namespace)
        self.pods = informer.Informer(kube, PODS, namespace=namespace)
        self.revisions = informer.Informer(kube, revisions.CONTROLLER_REVISIONS, namespace=namespace)
        self.hookruns = informer.Informer(kube, hook_model.HOOKRUNS, namespace=namespace)
        self.nodes = informer.Informer(kube, NODES)
        self.queue = workqueue.WorkQueue(name=self.resource.plural)
        self.expectations = expectations.Expectations()
        self.recorder = events.Recorder(kube, self.component)
        self.metrics = wl_metrics.WorkloadMetrics(self.metrics_kind)
        self.metrics.track_queue(lambda: len(self.queue))
        self.glue = hooks.HookGlue(kube, self.hookruns.items, instance_of=self.instance_of)
        self.reconciles = 0
        self.informer.add_handler(self._on_workload)
        for inf in (self.pods, self.revisions, self.hookruns):
            inf.add_handler(self._on_owned)

    # -- hooks for subclasses ----------------------------------------------------------------
    def instance_of(self, pod: Mapping[str, Any]) -> str:
        return str((pod.get("metadata") or {}).get("name") or "")

    # -- cache views -------------------------------------------------------------------------
    def owned(self, inf: informer.Informer, workload: Mapping[str, Any]) -> list[dict[str, Any]]:
        meta = workload.get("metadata") or {}
        uid, ns = meta.get("uid"), meta.get("namespace")
        out = []
        for obj in inf.items():
            ref = controller_of(obj)
            if ref and ref.get("uid") == uid and (obj.get("metadata") or {}).get("namespace") == ns:
                out.append(obj)
        return out

    def pod_lookup(self, namespace: str) -> Any:
        return lambda name: self.pods.get(f"{namespace}/{name}")

    def node_costs(self) -> dict[str, float]:
        out = {}
        for node in self.nodes.items():
            meta = node.get("metadata") or {}
            raw = (meta.get("annotations") or {}).get(podutil.NODE_DELETION_COST)
            try:
                if raw is not None:
                    out[meta["name"]] = float(int(raw))
            except ValueError:
                pass
        return out

    # -- events ------------------------------------------------------------------------------
    def _on_workload(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        key = informer.key_of(obj)
        if kind == informer.DELETED:
            self.expectations.forget(key)
            self.queue.forget(key)
        else:
            self.queue.add(key)

    def _on_owned(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        ref = controller_of(obj) or next(iter((obj.get("metadata") or {}).get("ownerReferences") or []), None)
        if ref and ref.get("kind") == self.resource.kind:
            self.queue.add(f"{(obj.get('metadata') or {}).get('namespace')}/{ref.get('name')}")

    # -- running -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled: the informers plus ``workers`` workers (which wait for the caches)."""
        infs = (self.informer, self.pods, self.revisions, self.hookruns, self.nodes)
        plural = self.resource.plural
        background = {f"{plural} informer {i.resource.plural}": i.run() for i in infs}
        background[f"{plural} events"] = self.recorder.run()
        await self.run_workers(
            background, label=plural, ready=lambda: asyncio.gather(*(i.wait_synced() for i in infs))
        )

    def observe(self, seconds: float) -> None:
        self.metrics.duration.observe(seconds)
