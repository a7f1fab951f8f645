"""Prometheus metrics of the data watch, per cluster and kind, on a registry the caller chooses.

Counters and the lag histogram are updated as work happens; queue depths and cached object counts
are read from the running watches when scraped (a collector), so a stopped cluster's series vanish
with it instead of freezing at their last value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import prometheus_client
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["Metrics", "Observed"]

LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Observed(Protocol):
    """What a running data watch reports when scraped."""

    cluster_id: str

    def depths(self) -> dict[str, int]:
        """Keys waiting to be written, by kind."""

    def sizes(self) -> dict[str, int]:
        """Objects cached, by kind."""


class _Live(Collector):
    def __init__(self) -> None:
        self.watches: dict[int, Observed] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "bcs_datawatch_queue_depth",
            "Objects waiting to be written, by cluster and kind.",
            labels=["cluster", "kind"],
        )
        size = GaugeMetricFamily(
            "bcs_datawatch_objects",
            "Objects in the list/watch cache, by cluster and kind.",
            labels=["cluster", "kind"],
        )
        for watch in list(self.watches.values()):
            for kind, n in watch.depths().items():
                depth.add_metric([watch.cluster_id, kind], n)
            for kind, n in watch.sizes().items():
                size.add_metric([watch.cluster_id, kind], n)
        yield depth
        yield size


class Metrics:
    """Every data watch metric; ``registry`` defaults to a private one (tests, ``bcs agent watch``)."""

    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        labels = ["cluster", "kind"]
        self.writes = prometheus_client.Counter(
            "bcs_datawatch_writes",
            "Objects written to storage, by cluster, kind and action (put, delete, event).",
            [*labels, "action"],
            registry=self.registry,
        )
        self.errors = prometheus_client.Counter(
            "bcs_datawatch_errors",
            "Failed writes, diffs and list/watch attempts, by cluster and kind.",
            labels,
            registry=self.registry,
        )
        self.dropped = prometheus_client.Counter(
            "bcs_datawatch_dropped",
            "Changes not written, by cluster, kind and reason (heartbeat, filtered, unchanged).",
            [*labels, "reason"],
            registry=self.registry,
        )
        self.repairs = prometheus_client.Counter(
            "bcs_datawatch_diff_repairs",
            "Objects a diff against storage found out of date, by cluster and kind.",
            labels,
            registry=self.registry,
        )
        self.lag = prometheus_client.Histogram(
            "bcs_datawatch_sync_lag_seconds",
            "Time from a change reaching the watch to its write in storage, by cluster and kind.",
            labels,
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.owned = prometheus_client.Gauge(
            "bcs_datawatch_clusters_owned",
            "Clusters whose data watch runs in this process.",
            registry=self.registry,
        )
        self._live = _Live()
        self.registry.register(self._live)

    def attach(self, watch: Observed) -> None:
        self._live.watches[id(watch)] = watch

    def detach(self, watch: Observed) -> None:
        self._live.watches.pop(id(watch), None)

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent), e.g. ``value("bcs_datawatch_writes_total", cluster=...)``."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)
