"""Prometheus metrics of a game-workload operator, on a registry per controller.

* ``bcs_<kind>_reconciles_total{result}``: reconciles by result (``ok``, ``conflict``, ``error``);
* ``bcs_<kind>_reconcile_duration_seconds``: wall time of one reconcile;
* ``bcs_<kind>_queue_depth``: keys waiting in the work queue (read at scrape time);
* ``bcs_<kind>_pod_actions_total{action}``: pods created, deleted, updated in place, hot-patched.
"""

from __future__ import annotations

from collections.abc import Callable

import prometheus_client

__all__ = ["WorkloadMetrics"]


class WorkloadMetrics:
    """Metrics of one controller; ``render()`` gives the text exposition format."""

    def __init__(self, kind: str, registry: prometheus_client.CollectorRegistry | None = None) -> None:
        self.registry = registry or prometheus_client.CollectorRegistry()
        self.reconciles = prometheus_client.Counter(
            f"bcs_{kind}_reconciles", f"{kind} reconciles by result.", ["result"], registry=self.registry
        )
        self.duration = prometheus_client.Histogram(
            f"bcs_{kind}_reconcile_duration_seconds", f"Time of one {kind} reconcile.", registry=self.registry
        )
        self.queue_depth = prometheus_client.Gauge(
            f"bcs_{kind}_queue_depth", f"{kind} keys waiting in the work queue.", registry=self.registry
        )
        self.pod_actions = prometheus_client.Counter(
            f"bcs_{kind}_pod_actions", "Pod actions taken, by action.", ["action"], registry=self.registry
        )

    def track_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(lambda: float(depth()))

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)
