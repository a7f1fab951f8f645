"""Joined registries: one family per name however many controllers registered it, labelled by cluster."""

from __future__ import annotations

import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from bcs.core import metrics


def _controller_registry(reconciles: int) -> prometheus_client.CollectorRegistry:
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter("demo_reconciles", "Reconciles.", ["result"], registry=registry)
    counter.labels("ok").inc(reconciles)
    return registry


def _samples(registry: prometheus_client.CollectorRegistry) -> dict[tuple[str, tuple], float]:
    text = prometheus_client.generate_latest(registry).decode()
    assert text.count("# TYPE demo_reconciles counter") <= 1
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "demo_reconciles_total"
    }


def test_attached_registries_merge_into_one_family_with_the_cluster_label() -> None:
    app = prometheus_client.CollectorRegistry()
    joined = metrics.JoinedRegistries("cluster")
    app.register(joined)
    detach_a = joined.attach("BCS-K8S-1", _controller_registry(2))
    joined.attach("BCS-K8S-2", _controller_registry(5))
    assert _samples(app) == {
        ("demo_reconciles_total", (("cluster", "BCS-K8S-1"), ("result", "ok"))): 2.0,
        ("demo_reconciles_total", (("cluster", "BCS-K8S-2"), ("result", "ok"))): 5.0,
    }
    detach_a()
    detach_a()  # idempotent
    assert _samples(app) == {("demo_reconciles_total", (("cluster", "BCS-K8S-2"), ("result", "ok"))): 5.0}


def test_without_a_label_samples_pass_through() -> None:
    app = prometheus_client.CollectorRegistry()
    joined = metrics.JoinedRegistries(label=None)
    app.register(joined)
    joined.attach("ignored", _controller_registry(3))
    assert _samples(app) == {("demo_reconciles_total", (("result", "ok"),)): 3.0}
