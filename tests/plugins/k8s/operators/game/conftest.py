"""Fixtures for the game-workload scenarios: a simulated cluster WITH scheduler and kubelet, the CRDs,
the Hook and GameDeployment controllers running, and a pod watcher that records every version seen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from bcs.plugins.k8s.kube import client, informer
from bcs.plugins.k8s.operators import cli
from bcs.plugins.k8s.operators.gamedeployment import controller as gd_controller
from bcs.plugins.k8s.operators.gamestatefulset import controller as gsts_controller
from bcs.plugins.k8s.operators.hook import controller as hook_controller
from bcs.plugins.k8s.operators.workload import controller as wl_controller
from bcs.sim.kube import cluster


@pytest.fixture
async def game_sim() -> AsyncIterator[cluster.KubeSim]:
    async with cluster.KubeSim(nodes=2, seed=5, tls=True, pod_start_delay=0.02, kill_delay=0.02) as sim:
        yield sim


@pytest.fixture
async def gkube(game_sim: cluster.KubeSim) -> AsyncIterator[client.KubeClient]:
    async with await client.connect(game_sim.kubeconfig) as k:
        await cli.apply_crds(k)
        yield k


@attrs.define
class Running:
    """Controllers running as tasks; ``start_gd`` (re)starts the GameDeployment controller,
    ``start_gsts`` the GameStatefulSet one."""

    kube: client.KubeClient
    gd: gd_controller.GameDeploymentController | None = None
    gsts: gsts_controller.GameStatefulSetController | None = None
    hook: hook_controller.HookController | None = None
    tasks: dict[str, asyncio.Task[None]] = attrs.Factory(dict)

    def start_gd(self) -> gd_controller.GameDeploymentController:
        self.gd = gd_controller.GameDeploymentController(self.kube, namespace="default")
        self.tasks["gd"] = asyncio.create_task(self.gd.run(), name="gd controller")
        return self.gd

    def start_gsts(self) -> gsts_controller.GameStatefulSetController:
        self.gsts = gsts_controller.GameStatefulSetController(self.kube, namespace="default")
        self.tasks["gsts"] = asyncio.create_task(self.gsts.run(), name="gsts controller")
        return self.gsts

    async def stop(self, name: str) -> None:
        task = self.tasks.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def _running(kube: client.KubeClient, *, gd: bool, gsts: bool) -> AsyncIterator[Running]:
    r = Running(kube)
    r.hook = hook_controller.HookController(kube, namespace="default", error_retry=0.2)
    r.tasks["hook"] = asyncio.create_task(r.hook.run(), name="hook controller")
    if gd:
        r.start_gd()
    if gsts:
        r.start_gsts()
    try:
        yield r
    finally:
        for name in list(r.tasks):
            await r.stop(name)


@pytest.fixture
async def operators(gkube: client.KubeClient) -> AsyncIterator[Running]:
    """The Hook and GameDeployment controllers (tests may add the GameStatefulSet one)."""
    async with _running(gkube, gd=True, gsts=False) as r:
        yield r


@pytest.fixture
async def gsts_operators(gkube: client.KubeClient) -> AsyncIterator[Running]:
    """The Hook and GameStatefulSet controllers."""
    async with _running(gkube, gd=False, gsts=True) as r:
        yield r


@attrs.define
class PodLog:
    """Every version of every pod seen through a watch, in order."""

    versions: list[dict[str, Any]] = attrs.Factory(list)
    deleted: list[str] = attrs.Factory(list)
    max_alive: int = 0
    alive: set[str] = attrs.Factory(set)

    def on_event(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        name = obj["metadata"]["name"]
        if kind == informer.DELETED:
            self.deleted.append(name)
            self.alive.discard(name)
        elif obj["metadata"].get("deletionTimestamp"):
            self.versions.append(obj)
            self.alive.discard(name)  # terminating pods no longer count as replicas
        else:
            self.versions.append(obj)
            self.alive.add(name)
            self.max_alive = max(self.max_alive, len(self.alive))


@pytest.fixture
async def pod_log(gkube: client.KubeClient) -> AsyncIterator[PodLog]:
    log = PodLog()
    inf = informer.Informer(gkube, wl_controller.PODS, namespace="default")
    inf.add_handler(log.on_event)
    task = asyncio.create_task(inf.run(), name="pod log")
    await inf.wait_synced()
    yield log
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
