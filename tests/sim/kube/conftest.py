"""Fixtures for the simulated Kubernetes cluster: ``kube_sim`` (TLS, token auth) and ``kubectl``."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
import pytest

from bcs.sim.kube import cluster
from tests import services

KUBECTL = "/usr/bin/kubectl"


@attrs.frozen
class Result:
    rc: int
    out: str
    err: str


class Kubectl:
    """Runs the real kubectl against one simulated cluster, with a private discovery cache."""

    def __init__(self, kubeconfig: str, cache: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache = cache

    async def __call__(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> Result:
        proc = await asyncio.create_subprocess_exec(
            KUBECTL,
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache}",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": str(self.cache.parent)},
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout)
        res = Result(proc.returncode or 0, out.decode(), err.decode())
        if check and res.rc != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({res.rc}):\n{res.err}\n{res.out}")
        return res


# The suite's poll-with-deadline: ``services.eventually`` with a 15 s default deadline.
until = functools.partial(services.eventually, timeout=15.0)


class Http:
    """Raw HTTP against a simulated cluster: ``(status, decoded body)``; ``headers`` of the last reply."""

    def __init__(self, sim: cluster.KubeSim, session: aiohttp.ClientSession) -> None:
        self.sim, self.session = sim, session
        self.headers: Any = {}

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ctype: str = "application/json",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        hdrs = {"Authorization": f"Bearer {self.sim.token if token is None else token}", **(headers or {})}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            hdrs["Content-Type"] = ctype
        async with self.session.request(
            method, self.sim.url + path, data=data, headers=hdrs, ssl=self.sim.client_ssl_context()
        ) as resp:
            raw = await resp.read()
            self.headers = resp.headers
            return resp.status, orjson.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()


@pytest.fixture
async def http(kube_sim: cluster.KubeSim) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(kube_sim, session)


@pytest.fixture
async def kube_sim() -> AsyncIterator[cluster.KubeSim]:
    async with cluster.KubeSim(nodes=3, seed=7, tls=True, node_heartbeat_interval=0) as sim:
        yield sim


@pytest.fixture
def kubectl(kube_sim: cluster.KubeSim, tmp_path: Path) -> Kubectl:
    if not os.access(KUBECTL, os.X_OK):
        pytest.fail(f"{KUBECTL} is needed: these tests drive the real kubectl binary")
    (tmp_path / "home").mkdir()
    return Kubectl(kube_sim.kubeconfig, tmp_path / "home" / "cache")
