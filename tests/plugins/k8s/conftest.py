"""Fixtures for the Kubernetes plugin: a simulated cluster, a client on it, Leases, the hook CRDs, and a
web endpoint the test scripts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web

from bcs import errors
from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import cli
from bcs.sim.kube import cluster

# The simulator does not serve coordination.k8s.io/v1 Leases yet (reported to the lead). Until it does,
# tests register a CRD with the same group, version, kind and plural, which the simulator serves with
# the same REST semantics (get/create/update with resourceVersion conflicts). Remove once it is built in.
LEASE_STANDIN_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "leases.coordination.k8s.io"},
    "spec": {
        "group": "coordination.k8s.io",
        "scope": "Namespaced",
        "names": {"plural": "leases", "singular": "lease", "kind": "Lease", "listKind": "LeaseList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


async def until(
    fn: Callable[[], Any | Awaitable[Any]],
    *,
    timeout: float = 20.0,
    what: str = "condition",
    every: float = 0.05,
) -> Any:
    """Poll ``fn`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(every)


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
    """``kube``, on a cluster that serves coordination.k8s.io/v1 Leases (see LEASE_STANDIN_CRD)."""
    try:
        listing = await kube.request("GET", "/apis/coordination.k8s.io/v1")
        served = any(r.get("name") == "leases" for r in listing.get("resources") or [])
    except errors.NotFound:
        served = False
    if not served:
        await kube.create(cli.CRDS, None, LEASE_STANDIN_CRD)
        await until(lambda: _served(kube, "/apis/coordination.k8s.io/v1", "leases"), what="lease stand-in")
    return kube


async def _served(kube: client.KubeClient, path: str, plural: str) -> bool:
    try:
        listing = await kube.request("GET", path)
    except errors.NotFound:
        return False
    return any(r.get("name") == plural for r in listing.get("resources") or [])


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
