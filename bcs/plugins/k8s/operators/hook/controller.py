"""The HookRun controller: informer + work queue + workers that take measurements and write verdicts.

Each reconcile reads the HookRun from the informer cache, takes the measurements that are due (in
parallel), folds them into ``status`` with the rules of ``assess``, writes ``status`` through the status
subresource (optimistic concurrency on resourceVersion), records an Event when the run's phase changes,
and requeues the run for its next measurement time: it never polls faster than the metrics ask.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any

import aiohttp

from bcs import errors
from bcs.plugins.k8s.kube import client, informer, workqueue
from bcs.plugins.k8s.operators import base as operators_base
from bcs.plugins.k8s.operators.hook import assess, events, model
from bcs.plugins.k8s.operators.hook import metrics as hook_metrics
from bcs.plugins.k8s.operators.hook import providers as base
from bcs.plugins.k8s.operators.hook.providers import kubernetes, prometheus, web

__all__ = ["HookController"]

logger = logging.getLogger(__name__)


class HookController(operators_base.Controller):
    """Runs every HookRun of one cluster (or of one ``namespace``) to completion.

    ``error_retry`` (seconds) is the wait before re-measuring after an Error when the metric has no
    interval (bk-bcs: 10 s). ``reconciles`` counts reconciles, so tests can tell which replica acted.
    """

    resource = model.HOOKRUNS
    log = logger

    def __init__(
        self,
        kube: client.KubeClient,
        *,
        namespace: str | None = None,
        workers: int = 4,
        metrics: hook_metrics.HookMetrics | None = None,
        error_retry: float = model.ERROR_RETRY_INTERVAL,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.workers = workers
        self.metrics = metrics or hook_metrics.HookMetrics()
        self.error_retry = error_retry
        self.informer = informer.Informer(kube, model.HOOKRUNS, namespace=namespace)
        self.queue = workqueue.WorkQueue(name="hookruns")
        self.reconciles = 0
        self.providers: dict[str, base.Provider] = {}
        self.informer.add_handler(self._on_event)
        self.metrics.track_runs(self.informer.items)

    def _on_event(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        key = informer.key_of(obj)
        if kind == informer.DELETED:
            self.queue.forget(key)
        else:
            self.queue.add(key)

    async def run(self) -> None:
        """Run until cancelled: the informer plus ``workers`` workers."""
        async with aiohttp.ClientSession() as session:
            self.providers = {
                "web": web.WebProvider(session),
                "prometheus": prometheus.PrometheusProvider(session),
                "kubernetes": kubernetes.KubernetesProvider(self.kube),
            }
            await self.run_workers({"hookrun informer": self.informer.run()}, label="hookrun")

    async def reconcile(self, key: str) -> float | None:
        """Advance one HookRun; returns seconds until it next needs attention (None: never)."""
        run = self.informer.get(key)
        if run is None:
            return None
        self.reconciles += 1
        status = run.get("status") or {}
        if status.get("phase") in model.COMPLETED:
            return None
        spec = run.get("spec") or {}
        new: dict[str, Any] = copy.deepcopy(status)
        now = model.now()
        new.setdefault("startedAt", model.format_time(now))
        new.setdefault("metricResults", [])
        try:
            metrics = model.parse_metrics(spec)
            args = model.resolve_args(spec.get("args"))
        except model.SpecError as e:
            new["phase"] = model.ERROR
            new["message"] = f"hook spec invalid: {e}"
            await self._write(run, status, new)
            return None

        tasks = assess.metric_tasks(metrics, spec, new, now, error_retry=self.error_retry)
        outcomes = await asyncio.gather(*(self._measure(run, m, args) for m, _ in tasks))
        for (metric, incomplete), measurement in zip(tasks, outcomes, strict=True):
            result = assess.result_of(new, metric.name)
            if result is None:
                result = assess.new_result(metric.name)
                new["metricResults"].append(result)
            assess.record(result, measurement, resumed=incomplete is not None)

        new["phase"] = assess.assess_run(metrics, spec, new)
        message = _run_message(new)
        if message:
            new["message"] = message
        else:
            new.pop("message", None)
        assess.trim(new)
        await self._write(run, status, new)
        if new["phase"] in model.COMPLETED:
            return None
        when = assess.next_reconcile(metrics, new, model.now(), error_retry=self.error_retry)
        return None if when is None else max((when - model.now()).total_seconds(), 0.0)

    async def _measure(
        self, run: dict[str, Any], metric: model.Metric, args: dict[str, str]
    ) -> dict[str, Any]:
        started = model.now()
        t0 = time.monotonic()
        provider = self.providers.get(metric.provider_name)
        if provider is None:
            outcome = base.Outcome(model.ERROR, message=f"provider {metric.provider_name} is not available")
        else:
            try:
                outcome = await provider.measure(base.Context(run=run, metric=metric, args=args))
            except Exception as e:  # a provider bug must become an Error measurement, not a stuck run
                logger.exception("provider %s crashed", metric.provider_name)
                outcome = base.Outcome(model.ERROR, message=f"provider failed: {e!r}")
        self.metrics.measured(
            provider=metric.provider_name, phase=outcome.phase, seconds=time.monotonic() - t0
        )
        m: dict[str, Any] = {
            "phase": outcome.phase,
            "startedAt": model.format_time(started),
            "finishedAt": model.format_time(model.now()),
        }
        if outcome.value:
            m["value"] = outcome.value
        if outcome.message:
            m["message"] = outcome.message
        return m

    async def _write(self, run: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> None:
        if new == old:
            return
        body = {**run, "status": new}
        meta = run.get("metadata") or {}
        try:
            written = await self.kube.replace(
                model.HOOKRUNS, meta.get("namespace"), meta.get("name"), body, sub="status"
            )
        except errors.NotFound:
            return  # deleted meanwhile
        # Our own write is the newest version: keep the cache ahead of the watch so the next reconcile
        # (often triggered by this very write) does not re-measure from the stale status.
        self.informer.cache[informer.key_of(written)] = written
        before, after = old.get("phase") or "", new.get("phase") or ""
        if before != after:
            self.metrics.transitions.labels(after).inc()
            logger.info("HookRun %s/%s: %s -> %s", meta.get("namespace"), meta.get("name"), before, after)
            await events.record(
                self.kube,
                written,
                reason=after,
                message=f"hook transitioned from {before or 'New'} -> {after}"
                + (f": {new.get('message')}" if new.get("message") else ""),
                warning=after in (model.FAILED, model.ERROR),
            )


def _run_message(status: dict[str, Any]) -> str:
    """Why a completed run is not Successful: the first metric carrying the run's phase."""
    phase = status.get("phase")
    if phase not in (model.FAILED, model.ERROR, model.INCONCLUSIVE):
        return ""
    for r in status.get("metricResults") or []:
        if r.get("phase") == phase:
            detail = f": {r['message']}" if r.get("message") else ""
            return f"metric {r.get('name')} assessed {phase}{detail}"
    return ""
