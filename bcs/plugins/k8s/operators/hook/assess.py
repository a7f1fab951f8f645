"""The HookRun rules of bk-bcs §5.4, as pure functions over the status dict (no I/O, no clock reads).

* :func:`metric_tasks`: which metrics to measure now (``generateMetricTasks``);
* :func:`record`: fold a finished measurement into a metric result's counters;
* :func:`assess_metric` / :func:`assess_run`: the phase of a metric and of the run;
* :func:`next_reconcile`: when the run next needs attention (``calculateNextReconcileTime``).

Two deliberate choices, documented in ``docs/hooks-operator.md``: ``failureLimit`` follows the
documented Argo rule (``failed > failureLimit``, so the default 0 fails on the first failure; a
negative limit disables it), and an Error measurement does not consume ``count`` (Argo), so a provider
outage is retried and ends in Error after ``consecutiveErrorLimit`` instead of counting as a pass.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from bcs.plugins.k8s.operators.hook import model

__all__ = [
    "result_of",
    "new_result",
    "last_measurement",
    "is_terminating",
    "metric_tasks",
    "record",
    "assess_metric",
    "assess_run",
    "next_reconcile",
    "trim",
]

Status = dict[str, Any]
Result = dict[str, Any]
_COUNTERS = (
    "count",
    "successful",
    "failed",
    "inconclusive",
    "error",
    "consecutiveError",
    "consecutiveSuccessful",
)


def result_of(status: Mapping[str, Any], name: str) -> Result | None:
    for r in status.get("metricResults") or []:
        if r.get("name") == name:
            return r
    return None


def new_result(name: str) -> Result:
    return {"name": name, "phase": model.RUNNING, **dict.fromkeys(_COUNTERS, 0), "measurements": []}


def last_measurement(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    ms = (result or {}).get("measurements") or []
    return ms[-1] if ms else None


def is_terminating(spec: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """``spec.terminate``, or a metric already Failed/Error/Inconclusive: no new measurements start."""
    if spec.get("terminate"):
        return True
    bad = {model.FAILED, model.ERROR, model.INCONCLUSIVE}
    return any(r.get("phase") in bad for r in status.get("metricResults") or [])


def _completed(status: Mapping[str, Any], name: str) -> bool:
    return (result_of(status, name) or {}).get("phase") in model.COMPLETED


def _interval_after(metric: model.Metric, last: Mapping[str, Any], error_retry: float) -> float | None:
    """Seconds between ``last`` finishing and the next measurement; None when none is due."""
    if last.get("phase") == model.ERROR:
        return error_retry if metric.interval is None else min(metric.interval, error_retry)
    return metric.interval


def metric_tasks(
    metrics: Sequence[model.Metric],
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    now: datetime.datetime,
    *,
    error_retry: float = model.ERROR_RETRY_INTERVAL,
) -> list[tuple[model.Metric, dict[str, Any] | None]]:
    """Metrics to measure now, each with its in-flight measurement to resume (or None to start one)."""
    tasks: list[tuple[model.Metric, dict[str, Any] | None]] = []
    terminating = is_terminating(spec, status)
    ordered = (spec.get("policy") or model.PARALLEL) == model.ORDERED
    started = model.parse_time(status.get("startedAt")) or now
    for i, metric in enumerate(metrics):
        if ordered and i > 0 and not _completed(status, metrics[i - 1].name):
            break
        if _completed(status, metric.name):
            continue
        result = result_of(status, metric.name)
        last = last_measurement(result)
        if last is not None and not last.get("finishedAt"):
            resume_at = model.parse_time(last.get("resumeAt"))
            if resume_at is None or resume_at <= now:
                tasks.append((metric, last))
            continue
        if terminating:
            continue
        if last is None:
            delay = metric.initial_delay or 0.0
            if started + datetime.timedelta(seconds=delay) <= now:
                tasks.append((metric, None))
            continue
        if _count_reached(metric, result):
            continue
        gap = _interval_after(metric, last, error_retry)
        finished = model.parse_time(last.get("finishedAt")) or now
        if gap is not None and finished + datetime.timedelta(seconds=gap) <= now:
            tasks.append((metric, None))
    return tasks


def _count_reached(metric: model.Metric, result: Mapping[str, Any] | None) -> bool:
    want = metric.effective_count
    return want is not None and int((result or {}).get("count") or 0) >= want


def record(result: Result, measurement: Mapping[str, Any], *, resumed: bool) -> None:
    """Store ``measurement`` in ``result`` and, if it finished, update the counters (bk-bcs rules)."""
    ms = result.setdefault("measurements", [])
    if resumed and ms:
        ms[-1] = dict(measurement)
    else:
        ms.append(dict(measurement))
    phase = measurement.get("phase")
    if phase not in model.COMPLETED:
        return
    for key in _COUNTERS:
        result.setdefault(key, 0)
    if phase == model.ERROR:
        result["error"] += 1
        result["consecutiveError"] += 1
        result["consecutiveSuccessful"] = 0
        return
    result["count"] += 1
    result["consecutiveError"] = 0
    if phase == model.SUCCESSFUL:
        result["successful"] += 1
        result["consecutiveSuccessful"] += 1
    else:
        result["failed" if phase == model.FAILED else "inconclusive"] += 1
        result["consecutiveSuccessful"] = 0


def assess_metric(metric: model.Metric, result: Mapping[str, Any] | None, *, terminating: bool) -> str:
    """The phase of one metric, checks in the §5.4 order (first match wins)."""
    result = result or {}
    phase = result.get("phase")
    if phase in model.COMPLETED:
        return phase
    last = last_measurement(result)
    if last is None:
        return model.SUCCESSFUL if terminating else model.PENDING
    if last.get("phase") not in model.COMPLETED:
        return model.RUNNING
    n = lambda key: int(result.get(key) or 0)  # noqa: E731
    if metric.failure_limit >= 0 and n("failed") > metric.failure_limit:
        return model.FAILED
    if metric.successful_limit > 0 and n("successful") >= metric.successful_limit:
        return model.SUCCESSFUL
    if metric.inconclusive_limit >= 0 and n("inconclusive") > metric.inconclusive_limit:
        return model.INCONCLUSIVE
    if n("consecutiveError") > metric.consecutive_error_limit:
        return model.ERROR
    limit = metric.consecutive_successful_limit
    if limit is not None and limit > 0 and n("consecutiveSuccessful") >= limit:
        return model.SUCCESSFUL
    if _count_reached(metric, result):
        return model.SUCCESSFUL
    return model.SUCCESSFUL if terminating else model.RUNNING


def assess_run(metrics: Sequence[model.Metric], spec: Mapping[str, Any], status: Status) -> str:
    """Set every metric result's phase (and message) in ``status``; return the run's phase.

    The run is Running until every metric completed, then takes the worst metric phase.
    """
    terminating = is_terminating(spec, status)
    worst = ""
    everything_completed = True
    for metric in metrics:
        result = result_of(status, metric.name)
        phase = assess_metric(metric, result, terminating=terminating)
        if result is None and phase in model.COMPLETED:
            # Never measured but terminated: record the verdict so the run can complete.
            result = new_result(metric.name)
            status.setdefault("metricResults", []).append(result)
        if result is not None and result.get("phase") != phase:
            result["phase"] = phase
            last = last_measurement(result)
            if last is not None and last.get("message"):
                result["message"] = last["message"]
            elif phase == model.SUCCESSFUL and last is None:
                result["message"] = "run terminated before the metric started"
        if phase not in model.COMPLETED:
            everything_completed = False
        elif not worst or model.worse(worst, phase):
            worst = phase
    if not everything_completed or not worst:
        return model.RUNNING
    return worst


def next_reconcile(
    metrics: Sequence[model.Metric],
    status: Mapping[str, Any],
    now: datetime.datetime,
    *,
    error_retry: float = model.ERROR_RETRY_INTERVAL,
) -> datetime.datetime | None:
    """The earliest time a metric needs a measurement (initial delay, interval, retry or resume)."""
    best: datetime.datetime | None = None
    started = model.parse_time(status.get("startedAt")) or now
    for metric in metrics:
        if _completed(status, metric.name):
            continue
        result = result_of(status, metric.name)
        last = last_measurement(result)
        when: datetime.datetime | None = None
        if last is None:
            if metric.initial_delay:
                when = started + datetime.timedelta(seconds=metric.initial_delay)
        elif not last.get("finishedAt"):
            when = model.parse_time(last.get("resumeAt"))
        elif not _count_reached(metric, result):
            gap = _interval_after(metric, last, error_retry)
            finished = model.parse_time(last.get("finishedAt")) or now
            if gap is not None:
                when = finished + datetime.timedelta(seconds=gap)
        if when is not None and (best is None or when < best):
            best = when
    return best


def trim(status: Status, limit: int = model.MEASUREMENT_HISTORY_LIMIT) -> None:
    """Keep only the last ``limit`` measurements of each metric (counters keep the totals)."""
    for r in status.get("metricResults") or []:
        ms = r.get("measurements") or []
        if len(ms) > limit:
            r["measurements"] = ms[-limit:]
