"""HookRuns for game workloads: pod-scoped pre-delete / pre-inplace / post-inplace checks and canary
step hooks, run to a verdict by the Hook operator (bk-bcs §5.4 "Workload <-> HookRun wiring").

A check never blocks: it creates the HookRun when missing, records a ``*HookCondition`` in the new
status it is given, and answers whether the action may go ahead now. The HookRun's phase changes reach
the workload through the HookRun informer, whose events requeue the owner.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from bcs import errors
from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.hook import model as hook_model
from bcs.plugins.k8s.operators.workload import revisions

__all__ = [
    "TYPE_LABEL",
    "REVISION_LABEL",
    "INSTANCE_LABEL",
    "STEP_LABEL",
    "PRE_DELETE",
    "PRE_INPLACE",
    "POST_INPLACE",
    "CANARY",
    "CONDITION_FIELD",
    "STRATEGY_FIELD",
    "HookGlue",
    "pod_args",
]

logger = logging.getLogger(__name__)

TYPE_LABEL, REVISION_LABEL = "hookrun-type", "workload-revision"
INSTANCE_LABEL, STEP_LABEL = "instance-id", "canary-step-index"
PRE_DELETE, PRE_INPLACE, POST_INPLACE, CANARY = (
    "pre-delete-step",
    "pre-inplace-step",
    "post-inplace-step",
    "canary-step",
)
CONDITION_FIELD = {
    PRE_DELETE: "preDeleteHookCondition",
    PRE_INPLACE: "preInplaceHookCondition",
    POST_INPLACE: "postInplaceHookCondition",
}
STRATEGY_FIELD = {
    PRE_DELETE: "preDeleteUpdateStrategy",
    PRE_INPLACE: "preInplaceUpdateStrategy",
    POST_INPLACE: "postInplaceUpdateStrategy",
}
_NAME_PREFIX = {
    PRE_DELETE: "pre-delete-hook",
    PRE_INPLACE: "pre-inplace-hook",
    POST_INPLACE: "post-inplace-hook",
}
_FAILED = frozenset({hook_model.FAILED, hook_model.ERROR, hook_model.INCONCLUSIVE})


def pod_args(pod: Mapping[str, Any]) -> dict[str, str]:
    """The args bk-bcs injects into every pod-scoped HookRun."""
    meta, spec, st = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    containers = spec.get("containers") or [{}]
    return {
        "PodName": meta.get("name") or "",
        "PodNamespace": meta.get("namespace") or "",
        "PodIP": st.get("podIP") or "",
        "PodContainer": containers[0].get("name") or "",
        "HostIP": st.get("hostIP") or "",
    }


def _name(*parts: str) -> str:
    return "-".join(p for p in parts if p)[:253].rstrip("-.").lower()


class HookGlue:
    """Creates and reads HookRuns owned by workloads; ``runs()`` is the HookRun informer's items."""

    def __init__(
        self,
        kube: client.KubeClient,
        runs: Callable[[], list[dict[str, Any]]],
        *,
        instance_of: Callable[[Mapping[str, Any]], str],
    ) -> None:
        self.kube = kube
        self.runs = runs
        self.instance_of = instance_of

    # -- lookup ----------------------------------------------------------------------------
    def owned(self, workload: Mapping[str, Any], type_: str | None = None) -> list[dict[str, Any]]:
        uid = (workload.get("metadata") or {}).get("uid")
        out = []
        for run in self.runs():
            meta = run.get("metadata") or {}
            if not any(r.get("uid") == uid for r in meta.get("ownerReferences") or []):
                continue
            if type_ is None or (meta.get("labels") or {}).get(TYPE_LABEL) == type_:
                out.append(run)
        return out

    def find(self, workload: Mapping[str, Any], type_: str, **labels: str) -> dict[str, Any] | None:
        for run in self.owned(workload, type_):
            have = (run.get("metadata") or {}).get("labels") or {}
            if all(have.get(k) == v for k, v in labels.items()):
                return run
        return None

    # -- creation --------------------------------------------------------------------------
    async def create(
        self,
        workload: Mapping[str, Any],
        *,
        step: Mapping[str, Any],
        name: str,
        labels: Mapping[str, str],
        args: Mapping[str, str],
        owner_ref: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Instantiate the step's HookTemplate; an existing run of that name is returned as is."""
        ns = (workload.get("metadata") or {}).get("namespace")
        template = await self.kube.get(hook_model.HOOKTEMPLATES, ns, step["templateName"])
        supplied = {**args, **{a["name"]: str(a.get("value", "")) for a in step.get("args") or []}}
        body = hook_model.hookrun_from_template(
            template, name=name, args=supplied, labels=labels, owner=owner_ref
        )
        try:
            return await self.kube.create(hook_model.HOOKRUNS, ns, body)
        except errors.Conflict:
            return await self.kube.get(hook_model.HOOKRUNS, ns, name)

    # -- pod-scoped checks -----------------------------------------------------------------
    async def check_pod(
        self,
        workload: Mapping[str, Any],
        pod: Mapping[str, Any],
        *,
        type_: str,
        status: dict[str, Any],
        owner_ref: Mapping[str, Any],
        now: str,
    ) -> bool:
        """May ``pod`` go ahead past the ``type_`` hook? Creates the HookRun and records conditions."""
        strategy = ((workload.get("spec") or {}).get(STRATEGY_FIELD[type_]) or {}).get("hook")
        if not strategy:
            return True
        if type_ != POST_INPLACE and (pod.get("status") or {}).get("phase") != "Running":
            return True
        meta = pod.get("metadata") or {}
        instance = self.instance_of(pod)
        revision = (meta.get("labels") or {}).get(revisions.REVISION_LABEL, "")
        conds = status.setdefault(CONDITION_FIELD[type_], [])
        pod_name = meta.get("name")
        run = self.find(workload, type_, **{INSTANCE_LABEL: instance, REVISION_LABEL: revision})
        if run is None:
            labels = {TYPE_LABEL: type_, REVISION_LABEL: revision, INSTANCE_LABEL: instance}
            wname = (workload.get("metadata") or {}).get("name", "")
            name = _name(_NAME_PREFIX[type_], wname, revision, instance, strategy["templateName"])
            run = await self.create(
                workload, step=strategy, name=name, labels=labels, args=pod_args(pod), owner_ref=owner_ref
            )
        phase = (run.get("status") or {}).get("phase") or hook_model.PENDING
        current = next((c for c in conds if c.get("podName") == pod_name), None)
        if phase == hook_model.SUCCESSFUL and type_ != POST_INPLACE:
            status[CONDITION_FIELD[type_]] = [c for c in conds if c.get("podName") != pod_name]
            return True
        if current is None:
            conds.append({"podName": pod_name, "startTime": now, "phase": phase})
        else:
            current["phase"] = phase
        return phase == hook_model.SUCCESSFUL

    async def collect(
        self, workload: Mapping[str, Any], live: Mapping[str, Mapping[str, Any]], status: dict[str, Any]
    ) -> None:
        """Drop conditions and pod HookRuns of pods that are gone; with ``retry``, delete failed runs."""
        spec = workload.get("spec") or {}
        ns = (workload.get("metadata") or {}).get("namespace")
        instances = {self.instance_of(p) for p in live.values()}
        for type_, field in CONDITION_FIELD.items():
            if field in status:
                status[field] = [c for c in status[field] or [] if c.get("podName") in live]
            retry = bool((spec.get(STRATEGY_FIELD[type_]) or {}).get("retry"))
            for run in self.owned(workload, type_):
                meta = run.get("metadata") or {}
                gone = (meta.get("labels") or {}).get(INSTANCE_LABEL) not in instances
                failed = (run.get("status") or {}).get("phase") in _FAILED
                if gone or (retry and failed):
                    with contextlib.suppress(errors.NotFound):
                        await self.kube.delete(hook_model.HOOKRUNS, ns, meta.get("name"))

    # -- canary step hook ------------------------------------------------------------------
    async def step_run(
        self,
        workload: Mapping[str, Any],
        *,
        step: Mapping[str, Any],
        index: int,
        revision: str,
        owner_ref: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The HookRun of canary step ``index`` at ``revision``, created when missing."""
        found = self.find(workload, CANARY, **{REVISION_LABEL: revision, STEP_LABEL: str(index)})
        if found is not None:
            return found
        wname = (workload.get("metadata") or {}).get("name", "")
        name = _name("canary-step-hook", wname, revision, str(index), step["templateName"])
        labels = {TYPE_LABEL: CANARY, REVISION_LABEL: revision, STEP_LABEL: str(index)}
        return await self.create(workload, step=step, name=name, labels=labels, args={}, owner_ref=owner_ref)
