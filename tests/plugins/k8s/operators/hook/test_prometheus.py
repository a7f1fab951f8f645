"""The prometheus provider against a real Prometheus scraping a target this test serves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.hook import controller, model
from tests.plugins.k8s import prometheus
from tests.plugins.k8s.operators.hook.cases import C, Case, check, metric, run_cases

EXPOSITION = """\
# TYPE bcs_test_rooms_empty gauge
bcs_test_rooms_empty 1
# TYPE bcs_test_error_rate gauge
bcs_test_error_rate 0.005
# TYPE bcs_test_players gauge
bcs_test_players{room="r1"} 5
"""


def prom(name: str, query: str, **fields: object) -> dict:
    return metric(name, {"prometheus": {"address": "{ADDRESS}", "query": query}}, **fields)


CASES = [
    Case("scalar-success", [prom("m", "scalar(bcs_test_rooms_empty)", successCondition="result >= 1")],
         model.SUCCESSFUL, {"m": C(count=1, successful=1, consecutiveSuccessful=1)}),
    Case("vector-success", [prom("m", "bcs_test_error_rate", successCondition="result[0] < 0.01")],
         model.SUCCESSFUL, {"m": C(count=1, successful=1, consecutiveSuccessful=1)}),
    Case("vector-failure", [prom("m", "bcs_test_players", successCondition="result[0] > 9")], model.FAILED,
         {"m": C(count=1, failed=1)}),
    Case("nan-inconclusive", [prom("m", "NaN", successCondition="result > 0")], model.INCONCLUSIVE,
         {"m": C(count=1, inconclusive=1)}),
    Case("matrix-error", [prom("m", "bcs_test_players[1m]", consecutiveErrorLimit=0)], model.ERROR,
         {"m": C(error=1, consecutiveError=1)}, message="unsupported prometheus result type"),
    Case("bad-query-error", [prom("m", "sum(", consecutiveErrorLimit=0)], model.ERROR,
         {"m": C(error=1, consecutiveError=1)}),
    Case("empty-vector", [prom("m", "bcs_test_missing", successCondition="len(result) > 0")], model.FAILED,
         {"m": C(count=1, failed=1)}),
    Case("args-in-query",
         [prom("m", 'bcs_test_players{room="{{ args.room }}"}', successCondition="result[0] == 5")],
         model.SUCCESSFUL, {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
         args=[{"name": "room", "value": "r1"}]),
    Case("unreachable-server",
         [metric("m", {"prometheus": {"address": "http://127.0.0.1:1", "query": "up"}},
                 consecutiveErrorLimit=0)],
         model.ERROR, {"m": C(error=1, consecutiveError=1)}),
]  # fmt: skip


async def _metrics(_: web.Request) -> web.Response:
    return web.Response(text=EXPOSITION, content_type="text/plain")


@pytest.fixture
async def scraped(tmp_path: Path) -> AsyncIterator[prometheus.Prometheus]:
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = await prometheus.start_prometheus(tmp_path, [f"127.0.0.1:{runner.addresses[0][1]}"])
    try:
        await server.wait_for_sample("bcs_test_players")
        yield server
    finally:
        await server.stop()
        await runner.cleanup()


def _with_address(case: Case, address: str) -> Case:
    metrics = []
    for m in case.metrics:
        p = m["provider"].get("prometheus") or {}
        if p.get("address") == "{ADDRESS}":
            m = {**m, "provider": {"prometheus": {**p, "address": address}}}
        metrics.append(m)
    return Case(case.id, metrics, case.phase, case.counters, args=case.args, message=case.message)


async def test_prometheus_table(hook_crds: client.KubeClient, scraped: prometheus.Prometheus) -> None:
    ctl = controller.HookController(hook_crds, workers=4, error_retry=0.3)
    task = asyncio.create_task(ctl.run(), name="hook controller")
    try:
        cases = [_with_address(c, scraped.url) for c in CASES]
        runs = await run_cases(hook_crds, cases, base="http://unused")
        assert check(cases, runs) == []
        values = {
            name: run["status"]["metricResults"][0]["measurements"][0].get("value")
            for name, run in runs.items()
        }
        assert values["scalar-success"] == "1"
        assert values["vector-success"] == "[0.005]"
        assert values["nan-inconclusive"] == "NaN"
        assert values["empty-vector"] == "[]"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
