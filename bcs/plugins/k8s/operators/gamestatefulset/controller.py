"""The GameStatefulSet controller: the GameDeployment pass with StatefulSet pod identity (bk-bcs §5.2).

Revisions, expectations, canary steps, hooks, in-place and hot-patch updates and status are those of
the GameDeployment controller; this class changes how pods are named, created, deleted and picked for
update: pod ``<name>-<ordinal>`` for ordinals ``0..replicas-1``; OrderedReady creates ascending and
deletes descending one at a time, waiting for every lower ordinal to be Ready; Parallel does not wait.
Updates walk from the highest ordinal down to the partition, within ``maxUnavailable``. OnDelete
updates nothing: deleted pods come back at the update revision.
"""

from __future__ import annotations

import copy
from typing import Any

from bcs import errors
from bcs.plugins.k8s.operators.gamedeployment import controller as gd_controller
from bcs.plugins.k8s.operators.gamedeployment import model as gd_model
from bcs.plugins.k8s.operators.gamedeployment import update
from bcs.plugins.k8s.operators.gamestatefulset import model
from bcs.plugins.k8s.operators.workload import canary, controller, expectations, inplace, revisions
from bcs.plugins.k8s.operators.workload import pods as podutil

__all__ = ["GameStatefulSetController"]


def _rev(pod: dict[str, Any]) -> str:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(revisions.REVISION_LABEL, "")


class GameStatefulSetController(gd_controller.GameDeploymentController):
    """Reconciles GameStatefulSets; see the module docstring."""

    resource = model.GAMESTATEFULSETS
    component = "bcs-gamestatefulset-operator"
    metrics_kind = "gamestatefulset"

    def instance_of(self, pod: dict[str, Any]) -> str:
        return str((pod.get("metadata") or {}).get("name") or "")

    def defaults(self, obj: dict[str, Any]) -> dict[str, Any]:
        return model.with_defaults(obj)

    def partition_of(self, p: gd_controller.Pass) -> int:
        if canary.steps_of(p.spec):
            return canary.current_partition(p.spec, p.status, p.spec["replicas"])
        raw = p.spec["updateStrategy"]["rollingUpdate"].get("partition")
        return podutil.resolve_int_or_percent(raw, p.spec["replicas"], round_up=True)

    async def manage(self, p: gd_controller.Pass) -> None:
        for pod in list(p.active):
            await update.refresh(p, pod)
        if not await self._scale(p):
            await self._update(p)
        p.status["currentReplicas"] = sum(1 for pod in p.active if _rev(pod) == p.current_rev)

    # -- scale -------------------------------------------------------------------------------
    async def _scale(self, p: gd_controller.Pass) -> bool:
        ordered = p.spec["podManagementPolicy"] == model.ORDERED_READY
        by_ord = {model.ordinal_of(pod): pod for pod in p.active}
        name = p.gd["metadata"]["name"]
        replicas = p.spec["replicas"]
        scaled = False
        for i in range(replicas):
            pod = by_ord.get(i)
            if pod is None:
                if self.pods.get(f"{p.ns}/{name}-{i}") is not None:  # still terminating: same name
                    if ordered:
                        return True
                    continue
                await self._create(p, i)
                scaled = True
                if ordered:
                    return True
            elif ordered and not podutil.is_ready(pod):
                return True
        for o in sorted(
            (o for o in by_ord if o is None or o >= replicas),
            key=lambda o: -1 if o is None else o,
            reverse=True,
        ):
            await self.delete_pods(p, [by_ord[o]], reason="scale down")
            scaled = True
            if ordered:
                return True
        return scaled

    async def _create(self, p: gd_controller.Pass, ordinal: int) -> None:
        strategy = p.spec["updateStrategy"]
        at_current = (
            strategy["type"] != model.ON_DELETE and p.current_rev != p.update_rev and ordinal < p.partition
        )
        rev = p.current_rev if at_current else p.update_rev
        template = p.current_tpl if at_current else p.update_tpl
        pod_name = f"{p.gd['metadata']['name']}-{ordinal}"
        tmeta = template.get("metadata") or {}
        labels = {
            **(tmeta.get("labels") or {}),
            revisions.REVISION_LABEL: rev,
            model.POD_NAME_LABEL: pod_name,
            model.POD_ORDINAL_LABEL: str(ordinal),
        }
        spec = copy.deepcopy(template.get("spec") or {})
        spec["hostname"] = pod_name
        if p.spec.get("serviceName"):
            spec["subdomain"] = p.spec["serviceName"]
        await self._claims(p, pod_name, spec)
        meta: dict[str, Any] = {
            "name": pod_name,
            "namespace": p.ns,
            "labels": labels,
            "ownerReferences": [p.owner],
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        self.expectations.expect(p.key, expectations.CREATE, pod_name)
        try:
            await self.kube.create(
                controller.PODS, p.ns, {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
            )
        except errors.Conflict:
            return  # the old pod of this ordinal is still there: the next pass sees it
        self.metrics.pod_actions.labels("create").inc()
        await self.recorder.record(
            p.gd, reason="SuccessfulCreate", message=f"created pod {pod_name} at revision {rev}"
        )

    async def _claims(self, p: gd_controller.Pass, pod_name: str, spec: dict[str, Any]) -> None:
        """Create missing PVCs of ``volumeClaimTemplates`` and mount them in ``spec``."""
        volumes = spec.setdefault("volumes", [])
        for tpl in p.spec.get("volumeClaimTemplates") or []:
            vname = (tpl.get("metadata") or {}).get("name")
            body = model.claim(
                tpl,
                pod_name=pod_name,
                namespace=p.ns,
                labels=(p.spec.get("selector") or {}).get("matchLabels") or {},
            )
            if not any(v.get("name") == vname for v in volumes):
                volumes.append(
                    {"name": vname, "persistentVolumeClaim": {"claimName": body["metadata"]["name"]}}
                )
            try:
                await self.kube.create(model.PVCS, p.ns, body)
            except errors.Conflict:
                continue  # kept from an earlier pod of this ordinal
            await self.recorder.record(
                p.gd, reason="SuccessfulCreate", message=f"created claim {body['metadata']['name']}"
            )
        if not volumes:
            spec.pop("volumes")

    # -- update ------------------------------------------------------------------------------
    async def _update(self, p: gd_controller.Pass) -> None:
        strategy = p.spec["updateStrategy"]
        if strategy["type"] == model.ON_DELETE or strategy.get("paused"):
            return
        replicas = p.spec["replicas"]
        ordered = p.spec["podManagementPolicy"] == model.ORDERED_READY
        budget = max(
            podutil.resolve_int_or_percent(
                strategy["rollingUpdate"].get("maxUnavailable"), replicas, round_up=True
            ),
            1,
        )
        by_ord = {model.ordinal_of(pod): pod for pod in p.active}
        unavailable = sum(
            1
            for o, pod in by_ord.items()
            if o is not None and o < replicas and not update.update_ready(p, pod)
        )
        for target in range(replicas - 1, p.partition - 1, -1):
            pod = by_ord.get(target)
            if pod is None:
                return  # the scale step recreates it first
            if _rev(pod) == p.update_rev or inplace.GRACE_ANNOTATION in (
                pod["metadata"].get("annotations") or {}
            ):
                continue
            if update.update_ready(p, pod):
                if unavailable >= budget:
                    return
                unavailable += 1
            if strategy["type"] == gd_model.ROLLING:
                await self.delete_pods(p, [pod], reason="rolling update")
                if ordered:
                    return
            elif not await update.in_place(p, pod, hot=strategy["type"] == gd_model.HOTPATCH):
                return
