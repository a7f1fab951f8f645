"""Prometheus metrics of one application (a registry per app: no global singletons)."""

from __future__ import annotations

import prometheus_client
from aiohttp import web

from bcs import keys

__all__ = ["Metrics", "handle_metrics"]


class Metrics:
    """Request counters and latency histograms, on a registry of their own."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            "bcs_http_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = prometheus_client.Histogram(
            "bcs_http_request_duration_seconds",
            "Time to produce a response (streaming bodies: until headers), by method and route.",
            ["method", "route"],
            registry=self.registry,
        )

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)


async def handle_metrics(request: web.Request) -> web.Response:
    body = request.app[keys.METRICS].render()
    return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})
