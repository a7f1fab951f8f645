"""Fixtures for the Kubernetes plugin: a simulated cluster, a client on it, Leases, the hook CRDs, and a
web endpoint the test scripts."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from aiohttp import web

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import cli
from bcs.sim.kube import cluster
from tests import services

# The suite's poll-with-deadline: ``services.eventually`` with a longer default deadline.
until = functools.partial(services.eventually, timeout=20.0, every=0.05)


@pytest.fixture
async def kube_sim() -> AsyncIterator[cluster.KubeSim]:
    # No workload controllers: the operators under test are the only actors on HookRuns.
    async with cluster.KubeSim(nodes=1, seed=3, tls=True, controllers=False) as sim:
        yield sim


@pytest.fixture
async def kube(kube_sim: cluster.KubeSim) -> AsyncIterator[client.KubeClient]:
    async with await client.connect(kube_sim.kubeconfig) as k:
        yield k


@pytest.fixture
async def leases(kube: client.KubeClient) -> client.KubeClient:
    """``kube``, for tests about Leases (the simulator serves coordination.k8s.io/v1)."""
    return kube


@pytest.fixture
async def hook_crds(kube: client.KubeClient) -> client.KubeClient:
    """``kube``, with the HookTemplate/HookRun CRDs installed from the packaged CRDs."""
    await cli.apply_crds(kube)
    return kube


@attrs.define
class WebTarget:
    """An HTTP endpoint whose answers a test scripts per path: each request takes the next scripted
    answer; the last one repeats. Requests are recorded with their headers."""

    url: str = ""
    scripts: dict[str, list[tuple[int, Any]]] = attrs.Factory(dict)
    requests: list[tuple[str, dict[str, str]]] = attrs.Factory(list)

    def script(self, path: str, *answers: tuple[int, Any]) -> str:
        self.scripts[path] = list(answers)
        return f"{self.url}/{path}"

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.requests.append((path, dict(request.headers)))
        answers = self.scripts.get(path) or [(404, {"error": "no script"})]
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)


@pytest.fixture
async def web_target() -> AsyncIterator[WebTarget]:
    target = WebTarget()
    app = web.Application()
    app.router.add_get("/{path}", target.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    target.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield target
    await runner.cleanup()
