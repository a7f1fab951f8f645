"""Serve many Prometheus registries as one: per-cluster controllers keep registries of their own.

Controllers (the operators, one set per cluster) each own a ``CollectorRegistry`` so they can be
built, tested and thrown away independently. :class:`JoinedRegistries` is a collector registered
once in the application's registry; controllers :meth:`~JoinedRegistries.attach` their registry
with a label value (the cluster id) while they run and detach it when they stop. At scrape time
families of the same name from every attached registry are merged into one family, each sample
carrying the label, so the exposition never repeats a ``# HELP``/``# TYPE`` header.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["JoinedRegistries"]


class JoinedRegistries(Collector):
    """Registries attached under a label value (``label=None`` adds no label)."""

    def __init__(self, label: str | None = "cluster") -> None:
        self.label = label
        self._attached: dict[int, tuple[str, CollectorRegistry]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()  # scrapes may run in prometheus_client's threads

    def attach(self, value: str, registry: CollectorRegistry) -> Callable[[], None]:
        """Serve ``registry`` with ``label=value`` until the returned function is called."""
        with self._lock:
            key = next(self._ids)
            self._attached[key] = (value, registry)

        def detach() -> None:
            with self._lock:
                self._attached.pop(key, None)

        return detach

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            attached = list(self._attached.values())
        merged: dict[str, Metric] = {}
        for value, registry in attached:
            for family in registry.collect():
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for sample in family.samples:
                    labels = sample.labels if self.label is None else {self.label: value, **sample.labels}
                    into.samples.append(sample._replace(labels=labels))
        yield from merged.values()
