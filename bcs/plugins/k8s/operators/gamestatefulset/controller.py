"""The GameStatefulSet controller: the GameDeployment pass with StatefulSet pod identity (bk-bcs §5.2).

Revisions, expectations, canary steps, hooks, in-place and hot-patch updates and status are those of
the GameDeployment controller; this class changes how pods are named, created, deleted and picked for
update: pod ``<name>-<ordinal>`` for ordinals ``0..replicas-1``; OrderedReady creates ascending and
deletes descending one at a time, waiting for every lower ordinal to be Ready; Parallel does not wait.
Updates walk from the highest ordinal down to the partition, within ``maxUnavailable``. OnDelete
updates nothing: deleted pods come back at the update revision.

``maxSurge`` (RollingUpdate only, as for GameDeployment): while ordinals between the partition and
``replicas`` still wait for the update revision, up to ``maxSurge`` extra pods ``<name>-<replicas>``,
``<name>-<replicas+1>``... run at the update revision, and each of them that is ready adds one to the
unavailable budget; once every ordinal below ``replicas`` is updated and ready they are deleted again
(from the highest ordinal down). Their PVCs are kept like any other.
"""

from __future__ import annotations

import copy
from typing import Any

from bcs import errors
from bcs.plugins.k8s.operators.gamedeployment import controller as gd_controller
from bcs.plugins.k8s.operators.gamedeployment import model as gd_model
from bcs.plugins.k8s.operators.gamedeployment import passes, update
from bcs.plugins.k8s.operators.gamestatefulset import model
from bcs.plugins.k8s.operators.workload import batch, canary, controller, expectations, inplace, revisions
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

    def partition_of(self, p: passes.Pass) -> int:
        if canary.steps_of(p.spec):
            return canary.current_partition(p.spec, p.status, p.spec["replicas"])
        raw = p.spec["updateStrategy"]["rollingUpdate"].get("partition")
        return podutil.resolve_int_or_percent(raw, p.spec["replicas"], round_up=True)

    async def manage(self, p: passes.Pass) -> None:
        for pod in list(p.active):
            await update.refresh(p, pod)
        if not await self._scale(p):
            await self._update(p)
        p.status["currentReplicas"] = sum(1 for pod in p.active if _rev(pod) == p.current_rev)

    def _counts(self, p: passes.Pass) -> canary.Counts:
        # Canary partition steps are about ordinals below ``replicas``: a ready surge pod must not make
        # a step look complete early.
        replicas = p.spec["replicas"]
        mrs = int(p.spec.get("minReadySeconds") or 0)
        mine = [pod for pod in p.active if (model.ordinal_of(pod) or 0) < replicas]
        return canary.Counts(
            replicas=replicas,
            ready=sum(1 for pod in mine if podutil.is_ready(pod)),
            available=sum(1 for pod in mine if podutil.is_available(pod, mrs, p.now)),
            updated_ready=sum(1 for pod in mine if _rev(pod) == p.update_rev and update.update_ready(p, pod)),
        )

    def surge(self, p: passes.Pass) -> int:
        """Extra ordinals (``replicas`` and up) allowed now: RollingUpdate with ordinals still waiting."""
        strategy = p.spec["updateStrategy"]
        if strategy["type"] != gd_model.ROLLING or strategy.get("paused"):
            return 0
        replicas = p.spec["replicas"]
        by_ord = {model.ordinal_of(pod): pod for pod in p.active}
        waiting = 0
        for o in range(min(p.partition, replicas), replicas):
            pod = by_ord.get(o)
            if pod is None or _rev(pod) != p.update_rev or not update.update_ready(p, pod):
                waiting += 1
        if waiting == 0:
            return 0
        wanted = podutil.resolve_int_or_percent(
            strategy["rollingUpdate"].get("maxSurge"), replicas, round_up=True
        )
        return min(wanted, waiting)

    # -- scale -------------------------------------------------------------------------------
    async def _scale(self, p: passes.Pass) -> bool:
        ordered = p.spec["podManagementPolicy"] == model.ORDERED_READY
        by_ord = {model.ordinal_of(pod): pod for pod in p.active}
        name = p.gd["metadata"]["name"]
        replicas = p.spec["replicas"]
        wanted = replicas + self.surge(p)
        scaled = False
        for i in range(wanted):
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
            (o for o in by_ord if o is None or o >= wanted),
            key=lambda o: -1 if o is None else o,
            reverse=True,
        ):
            await self.delete_pods(p, [by_ord[o]], reason="scale down")
            scaled = True
            if ordered:
                return True
        return scaled

    async def _create(self, p: passes.Pass, ordinal: int) -> None:
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

    async def _claims(self, p: passes.Pass, pod_name: str, spec: dict[str, Any]) -> None:
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
    async def _update(self, p: passes.Pass) -> None:
        strategy = p.spec["updateStrategy"]
        if strategy["type"] == model.ON_DELETE or strategy.get("paused"):
            return
        replicas = p.spec["replicas"]
        ordered = p.spec["podManagementPolicy"] == model.ORDERED_READY
        ru = strategy["rollingUpdate"]
        max_surge = podutil.resolve_int_or_percent(ru.get("maxSurge"), replicas, round_up=True)
        if strategy["type"] != gd_model.ROLLING:
            max_surge = 0
        budget = podutil.resolve_int_or_percent(ru.get("maxUnavailable"), replicas, round_up=max_surge == 0)
        if budget == 0 and max_surge == 0:
            budget = 1
        by_ord = {model.ordinal_of(pod): pod for pod in p.active}
        # every ready surge pod stands in for one pod taken down
        budget += sum(
            1 for o, pod in by_ord.items() if o is not None and o >= replicas and update.update_ready(p, pod)
        )
        unavailable = sum(
            1
            for o, pod in by_ord.items()
            if o is not None and o < replicas and not update.update_ready(p, pod)
        )
        chosen = []
        for target in range(replicas - 1, p.partition - 1, -1):
            pod = by_ord.get(target)
            if pod is None:
                break  # the scale step recreates it first
            if _rev(pod) == p.update_rev or inplace.GRACE_ANNOTATION in (
                pod["metadata"].get("annotations") or {}
            ):
                continue
            if update.update_ready(p, pod):
                if unavailable >= budget:
                    break
                unavailable += 1
            chosen.append(pod)
            if ordered and strategy["type"] == gd_model.ROLLING:
                break  # OrderedReady: one pod down at a time, recreated before the next
        if strategy["type"] == gd_model.ROLLING:
            await self.delete_pods(p, chosen, reason="rolling update")
        else:
            hot = strategy["type"] == gd_model.HOTPATCH
            await batch.limited(chosen, lambda pod: update.in_place(p, pod, hot=hot))
