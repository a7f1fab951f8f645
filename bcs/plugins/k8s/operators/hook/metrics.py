"""Prometheus metrics of the Hook operator, on a registry per controller (no global singletons).

* ``bcs_hookruns{phase}``: HookRuns in the controller's cache by phase (read at scrape time);
* ``bcs_hookrun_phase_transitions_total{phase}``: phase changes the controller wrote;
* ``bcs_hook_measurement_duration_seconds{provider,phase}``: time to take one measurement;
* ``bcs_hook_provider_errors_total{provider}``: Error measurements per provider;
* ``bcs_hook_reconciles_total{result}``: reconciles by result (``ok``, ``conflict``, ``error``).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import prometheus_client
from prometheus_client import core as prom_core
from prometheus_client import registry as prom_registry

__all__ = ["HookMetrics"]


class _RunsByPhase(prom_registry.Collector):
    def __init__(self, source: Callable[[], Iterable[dict[str, Any]]]) -> None:
        self.source = source

    def collect(self) -> Iterator[prom_core.Metric]:
        counts = collections.Counter(
            ((obj.get("status") or {}).get("phase") or "Pending") for obj in self.source()
        )
        family = prom_core.GaugeMetricFamily(
            "bcs_hookruns", "HookRuns known to the operator, by phase.", labels=["phase"]
        )
        for phase, n in sorted(counts.items()):
            family.add_metric([phase], n)
        yield family


class HookMetrics:
    """The operator's metrics; ``render()`` gives the text exposition format."""

    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None) -> None:
        self.registry = registry or prometheus_client.CollectorRegistry()
        self.transitions = prometheus_client.Counter(
            "bcs_hookrun_phase_transitions",
            "HookRun phase changes written.",
            ["phase"],
            registry=self.registry,
        )
        self.measurement_seconds = prometheus_client.Histogram(
            "bcs_hook_measurement_duration_seconds",
            "Time to take one measurement, by provider and resulting phase.",
            ["provider", "phase"],
            registry=self.registry,
        )
        self.provider_errors = prometheus_client.Counter(
            "bcs_hook_provider_errors",
            "Measurements that ended in Error, by provider.",
            ["provider"],
            registry=self.registry,
        )
        self.reconciles = prometheus_client.Counter(
            "bcs_hook_reconciles", "HookRun reconciles by result.", ["result"], registry=self.registry
        )
        self._runs: _RunsByPhase | None = None

    def track_runs(self, source: Callable[[], Iterable[dict[str, Any]]]) -> None:
        """Report ``bcs_hookruns`` from ``source()`` (the informer cache) at every scrape."""
        if self._runs is not None:
            self.registry.unregister(self._runs)
        self._runs = _RunsByPhase(source)
        self.registry.register(self._runs)

    def measured(self, *, provider: str, phase: str, seconds: float) -> None:
        self.measurement_seconds.labels(provider, phase).observe(seconds)
        if phase == "Error":
            self.provider_errors.labels(provider).inc()

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)
