"""The GameDeployment controller: one reconcile pass per key (bk-bcs §5.1 "Reconcile algorithm").

1. ensure the ControllerRevision of the template (collision count on a clash); 2. wait for
expectations; 3. restart the canary walk if the revision or steps changed, else advance it (pauses and
step hooks); 4. GC hook conditions, then scale, and only if nothing was scaled, update; 5. write status,
trim revision history, requeue at the next timed event.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
from collections.abc import Callable
from typing import Any

from bcs import errors
from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamedeployment import model, passes, scale, update
from bcs.plugins.k8s.operators.workload import batch, canary, controller, expectations, hooks, revisions
from bcs.plugins.k8s.operators.workload import pods as podutil

__all__ = ["GameDeploymentController", "Pass"]


Pass = passes.Pass
_rev = passes.revision_of


class GameDeploymentController(controller.WorkloadController):
    """Reconciles GameDeployments; see the module docstring for one pass."""

    resource = model.GAMEDEPLOYMENTS
    component = "bcs-gamedeployment-operator"
    metrics_kind = "gamedeployment"

    def instance_of(self, pod: dict[str, Any]) -> str:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        return labels.get(model.INSTANCE_ID_LABEL) or str((pod.get("metadata") or {}).get("name"))

    # -- helpers used by scale/update --------------------------------------------------------
    def sort_key(self, p: Pass) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        costs = self.node_costs()
        descend = (p.gd["metadata"].get("annotations") or {}).get(podutil.DELETION_COST_SORT) == "descend"
        return lambda pod: podutil.deletion_key(pod, node_costs=costs, descend=descend)

    @staticmethod
    def revision_of(pod: dict[str, Any]) -> str:
        return _rev(pod)

    def template_of(self, p: Pass, pod: dict[str, Any]) -> dict[str, Any] | None:
        name = revisions.revision_name(p.gd["metadata"]["name"], _rev(pod))
        for r in p.revisions:
            if r["metadata"]["name"] == name:
                return revisions.revision_template(r)
        return None

    async def create_pods(self, p: Pass, n: int, *, at_update: bool) -> None:
        if n <= 0:
            return
        template = p.update_tpl if at_update else p.current_tpl
        rev = p.update_rev if at_update else p.current_rev
        taken = {self.instance_of(pod) for pod in p.active}
        indexes = _free_indexes(p.gd, p.active, n)
        if indexes is None:
            await self.recorder.record(
                p.gd, reason="FailedCreate", message="no free pod index left in the range", warning=True
            )
            return
        bodies = []
        for i in range(n):
            instance = model.new_instance_id(taken)
            taken.add(instance)
            bodies.append(_new_pod(p, template, rev, instance, indexes[i] if indexes else None))

        async def create(i: int) -> None:
            body = bodies[i]
            name = body["metadata"]["name"]
            self.expectations.expect(p.key, expectations.CREATE, name)
            try:
                await self.kube.create(controller.PODS, p.ns, body)
            except errors.BcsError as e:
                self.expectations.cancel(p.key, expectations.CREATE, name)
                _condition(p.status, "FailedScale", str(e), p.stamp)
                await self.recorder.record(
                    p.gd, reason="FailedCreate", message=f"create pod {name}: {e}", warning=True
                )
                raise
            self.metrics.pod_actions.labels("create").inc()
            await self.recorder.record(
                p.gd, reason="SuccessfulCreate", message=f"created pod {name} at revision {rev}"
            )

        await batch.slow_start(len(bodies), create)

    async def delete_pods(self, p: Pass, pods: list[dict[str, Any]], *, reason: str) -> None:
        async def delete(pod: dict[str, Any]) -> None:
            name = pod["metadata"]["name"]
            ok = await self.glue.check_pod(
                p.gd, pod, type_=hooks.PRE_DELETE, status=p.status, owner_ref=p.owner, now=p.stamp
            )
            if not ok:
                if model.DELETING_ANNOTATION not in (pod["metadata"].get("annotations") or {}):
                    marked = copy.deepcopy(pod)
                    marked["metadata"].setdefault("annotations", {})[model.DELETING_ANNOTATION] = p.stamp
                    await self.replace_pod(p, marked, action=None)
                return
            self.expectations.expect(p.key, expectations.DELETE, name)
            try:
                await self.kube.delete(controller.PODS, p.ns, name)
            except errors.NotFound:
                return
            self.metrics.pod_actions.labels("delete").inc()
            await self.recorder.record(
                p.gd, reason="SuccessfulDelete", message=f"deleted pod {name} ({reason})"
            )

        await batch.limited(pods, delete)

    async def replace_pod(self, p: Pass, pod: dict[str, Any], *, action: str | None) -> dict[str, Any]:
        meta = pod["metadata"]
        # A JSON patch of only what an operator changes (labels, annotations, images): a PUT would
        # conflict with every kubelet status write in between, and in-place updates race with those.
        written = await self.kube.patch(
            controller.PODS, p.ns, meta["name"], _pod_patch(pod), patch_type=client.JSON_PATCH
        )
        self.expectations.expect(
            p.key, expectations.UPDATE, meta["name"], written["metadata"]["resourceVersion"]
        )
        if action:
            self.metrics.pod_actions.labels(action).inc()
            await self.recorder.record(
                p.gd,
                reason=f"Pod{action.title().replace('-', '')}",
                message=f"pod {meta['name']} -> revision {_rev(pod)}",
            )
        return written

    async def replace_pod_status(self, p: Pass, pod: dict[str, Any]) -> dict[str, Any]:
        meta = pod["metadata"]
        written = await self.kube.replace(controller.PODS, p.ns, meta["name"], pod, sub="status")
        self.expectations.expect(
            p.key, expectations.UPDATE, meta["name"], written["metadata"]["resourceVersion"]
        )
        return written

    # -- the pass ----------------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        cached = self.informer.get(key)
        if cached is None or (cached.get("metadata") or {}).get("deletionTimestamp"):
            return None
        self.reconciles += 1
        gd = self.defaults(cached)
        status = copy.deepcopy(gd.get("status") or {})
        now = datetime.datetime.now(datetime.UTC)
        revs = self.owned(self.revisions, gd)
        found = await self._ensure_revision(gd, revs, status)
        if found is None:
            await self._write_status(gd, cached, status)
            return 0.0
        update_rev, revs = found
        ns = gd["metadata"]["namespace"]
        if not self.expectations.satisfied(key, self.pod_lookup(ns)):
            return 1.0  # pod events requeue sooner; this only bounds a missed one
        pods = self.owned(self.pods, gd)
        active = [pod for pod in pods if not podutil.is_terminating(pod)]
        current_rev = status.get("currentRevision") or update_rev
        cur_obj = next(
            (
                r
                for r in revs
                if r["metadata"]["name"] == revisions.revision_name(gd["metadata"]["name"], current_rev)
            ),
            None,
        )
        if cur_obj is None:
            current_rev = update_rev
        update_tpl = copy.deepcopy(gd["spec"]["template"])
        p = Pass(
            ctl=self,
            key=key,
            gd=gd,
            status=status,
            active=active,
            revisions=revs,
            update_rev=update_rev,
            update_tpl=update_tpl,
            current_rev=current_rev,
            current_tpl=revisions.revision_template(cur_obj) if cur_obj else update_tpl,
            now=now,
        )
        if canary.reset(gd["spec"], status, update_rev):
            self._fill_status(p)
            await self._write_status(gd, cached, status)
            return 0.0
        self._fill_status(p)
        outcome = await canary.progress(
            gd, status, self._counts(p), glue=self.glue, owner_ref=p.owner, now=now
        )
        for reason, message in outcome.events:
            await self.recorder.record(
                gd, reason=reason, message=message, warning=reason == canary.PAUSED_BY_HOOK
            )
        if outcome.requeue is not None:
            p.requeue(outcome.requeue)
        if outcome.paused is not None and outcome.paused != gd["spec"]["updateStrategy"]["paused"]:
            cached = await self.kube.patch(
                self.resource,
                ns,
                gd["metadata"]["name"],
                {"spec": {"updateStrategy": {"paused": outcome.paused}}},
            )
            gd["spec"]["updateStrategy"]["paused"] = outcome.paused
            gd["metadata"]["resourceVersion"] = cached["metadata"]["resourceVersion"]
        if outcome.stop:
            await self._write_status(gd, cached, status)
            return p.delay
        p.partition = self.partition_of(p)
        await self.glue.collect(gd, {pod["metadata"]["name"]: pod for pod in active}, status)
        await self.manage(p)
        # No second _fill_status: the counts come from this pass's pods, which manage() does not change
        # (its writes show up in the next pass).
        if (status.get("updatedReplicas") == len(active) == gd["spec"]["replicas"]) and not p.not_updated:
            status["currentRevision"] = update_rev
        await self._write_status(gd, cached, status)
        await self._trim_history(gd, revs, active, status)
        return p.delay

    # -- what a subclass (GameStatefulSet) changes -------------------------------------------
    def defaults(self, obj: dict[str, Any]) -> dict[str, Any]:
        return model.with_defaults(obj)

    def partition_of(self, p: Pass) -> int:
        return canary.current_partition(p.spec, p.status, p.spec["replicas"])

    async def manage(self, p: Pass) -> None:
        """Scale, and only when nothing was scaled, update."""
        if not await scale.manage(p):
            await update.manage(p)

    def _counts(self, p: Pass) -> canary.Counts:
        st = p.status
        return canary.Counts(
            replicas=p.spec["replicas"],
            ready=st.get("readyReplicas", 0),
            available=st.get("availableReplicas", 0),
            updated_ready=st.get("updatedReadyReplicas", 0),
        )

    def _fill_status(self, p: Pass) -> None:
        st, spec = p.status, p.spec
        mrs = int(spec.get("minReadySeconds") or 0)
        updated = p.updated
        ready = available = 0
        for pod in p.active:
            if podutil.is_ready(pod):
                ready += 1
                if mrs <= 0 or podutil.is_available(pod, mrs, p.now):
                    available += 1
        st["observedGeneration"] = p.gd["metadata"].get("generation", 0)
        st["replicas"] = len(p.active)
        st["readyReplicas"] = ready
        st["availableReplicas"] = available
        st["updatedReplicas"] = len(updated)
        st["updatedReadyReplicas"] = sum(1 for pod in updated if update.update_ready(p, pod))
        st["updateRevision"] = p.update_rev
        st.setdefault("currentRevision", p.current_rev)
        st.setdefault("collisionCount", 0)
        st["labelSelector"] = _selector_string(spec.get("selector") or {})

    async def _ensure_revision(
        self, gd: dict[str, Any], revs: list[dict[str, Any]], status: dict[str, Any]
    ) -> tuple[str, list[dict[str, Any]]] | None:
        template = gd["spec"]["template"]
        equal = revisions.find_equal(revs, template)
        if equal is not None:
            return equal["metadata"]["labels"][revisions.REVISION_LABEL], revs
        collisions = int(status.get("collisionCount") or 0)
        hash_ = revisions.template_hash(template, collisions)
        number = max((int(r.get("revision") or 0) for r in revs), default=0) + 1
        labels = dict(((gd["spec"].get("selector") or {}).get("matchLabels")) or {})
        body = revisions.new_revision(
            gd, template, hash_=hash_, number=number, labels=labels, owner_ref=controller.owner_ref(gd)
        )
        try:
            created = await self.kube.create(
                revisions.CONTROLLER_REVISIONS, gd["metadata"]["namespace"], body
            )
        except errors.Conflict:
            existing = await self.kube.get(
                revisions.CONTROLLER_REVISIONS, gd["metadata"]["namespace"], body["metadata"]["name"]
            )
            if revisions.revision_template(existing) == template:
                return hash_, [*revs, existing]
            status["collisionCount"] = collisions + 1
            return None
        await self.recorder.record(gd, reason="RevisionCreated", message=f"revision {hash_} ({number})")
        return hash_, [*revs, created]

    async def _write_status(self, gd: dict[str, Any], cached: dict[str, Any], status: dict[str, Any]) -> None:
        if status == (cached.get("status") or {}):
            return
        body = {**cached, "status": status}
        body["metadata"] = {**cached["metadata"], "resourceVersion": gd["metadata"]["resourceVersion"]}
        try:
            written = await self.kube.replace(
                self.resource, gd["metadata"]["namespace"], gd["metadata"]["name"], body, sub="status"
            )
        except errors.NotFound:
            return
        self.informer.cache[f"{gd['metadata']['namespace']}/{gd['metadata']['name']}"] = written

    async def _trim_history(
        self,
        gd: dict[str, Any],
        revs: list[dict[str, Any]],
        active: list[dict[str, Any]],
        status: dict[str, Any],
    ) -> None:
        name = gd["metadata"]["name"]
        in_use = {revisions.revision_name(name, _rev(pod)) for pod in active}
        in_use |= {
            revisions.revision_name(name, status.get(k, "")) for k in ("updateRevision", "currentRevision")
        }
        for r in revisions.history_to_trim(revs, keep=int(gd["spec"]["revisionHistoryLimit"]), in_use=in_use):
            with contextlib.suppress(errors.NotFound):
                await self.kube.delete(
                    revisions.CONTROLLER_REVISIONS, gd["metadata"]["namespace"], r["metadata"]["name"]
                )


def _pod_patch(pod: dict[str, Any]) -> list[dict[str, Any]]:
    meta = pod["metadata"]
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/uid", "value": meta.get("uid")},
        {"op": "add", "path": "/metadata/labels", "value": meta.get("labels") or {}},
        {"op": "add", "path": "/metadata/annotations", "value": meta.get("annotations") or {}},
    ]
    for i, c in enumerate(pod["spec"]["containers"]):
        ops.append({"op": "replace", "path": f"/spec/containers/{i}/image", "value": c.get("image")})
    return ops


def _condition(status: dict[str, Any], type_: str, message: str, now: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    conds.append(
        {
            "type": type_,
            "status": "True",
            "lastTransitionTime": now,
            "reason": type_,
            "message": message[:500],
        }
    )
    status["conditions"] = conds


def _selector_string(selector: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _free_indexes(gd: dict[str, Any], active: list[dict[str, Any]], n: int) -> list[int] | None:
    """Indexes for ``n`` new pods when the index feature is on; [] when off; None when exhausted."""
    ann = gd["metadata"].get("annotations") or {}
    if ann.get(model.INDEX_ON_ANNOTATION) != "true":
        return []
    try:
        rng = json.loads(ann.get(model.INDEX_RANGE_ANNOTATION) or "{}")
    except ValueError:
        rng = {}
    start, end = int(rng.get("podStartIndex", 0)), int(rng.get("podEndIndex", 1000))
    used = set()
    for pod in active:
        raw = ((pod.get("metadata") or {}).get("labels") or {}).get(model.INDEX_ID_LABEL)
        if raw is not None and raw.isdigit():
            used.add(int(raw))
    free = [i for i in range(start, end + 1) if i not in used][:n]
    return free if len(free) == n else None


def _new_pod(p: Pass, template: dict[str, Any], rev: str, instance: str, index: int | None) -> dict[str, Any]:
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}), revisions.REVISION_LABEL: rev, model.INSTANCE_ID_LABEL: instance}
    spec = copy.deepcopy(template.get("spec") or {})
    if index is not None:
        labels[model.INDEX_ID_LABEL] = str(index)
        for c in spec.get("containers") or []:
            env = [e for e in c.get("env") or [] if e.get("name") != "POD_INDEX"]
            c["env"] = [*env, {"name": "POD_INDEX", "value": str(index)}]
    meta: dict[str, Any] = {
        "name": f"{p.gd['metadata']['name']}-{model.random_suffix()}",
        "namespace": p.ns,
        "labels": labels,
        "ownerReferences": [p.owner],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
