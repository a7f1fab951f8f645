"""GameDeployment operator benchmark: CPU of one reconcile pass, wall time of an in-place rollout.

    python bench/operators.py [--pods 1000] [--passes 20] [--rounds 3]

The simulator runs as its own process (``bcs sim kube``, plain HTTP on loopback); the operator runs in
this one, so the CPU figures are the operator's alone.

1. CPU ms (``time.process_time``) of one GameDeployment reconcile pass over ``--pods`` pods, against
   informer caches already synced, with the API writes answered locally (so HTTP is not counted, only
   the controller's own computation): an idle pass (nothing to do) and the pass that starts an
   in-place update of ``maxUnavailable`` = 20 % of the pods. Median of ``--passes`` (goal <= 50 ms
   at 1,000 pods).
2. Wall time of a full in-place rollout of ``--pods`` pods with maxUnavailable 20 % (operator running,
   real HTTP), next to the simulator's own Deployment controller rolling a Deployment of the same size
   with maxUnavailable 20 % / maxSurge 0; median of ``--rounds`` rollouts each, interleaved, and the
   ratio. The simulator's kubelet restarts a container instantly, so both figures are control-plane
   time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import cli
from bcs.plugins.k8s.operators.gamedeployment import controller as gd_controller
from bcs.plugins.k8s.operators.gamedeployment import model
from bcs.plugins.k8s.operators.workload import expectations

__all__ = ["main"]

ROOT = pathlib.Path(__file__).resolve().parents[1]
NS = "default"
DEPLOYMENTS = client.Resource("apps", "v1", "deployments", "Deployment")
SIM_LINE = re.compile(r"cluster sim-0: (\S+) kubeconfig=(\S+)")
GOAL_MS = 50.0


class Absorb:
    """A stand-in client: reads go to the real one, writes are answered locally (and counted)."""

    def __init__(self, real: client.KubeClient) -> None:
        self.real = real
        self.writes = 0

    async def get(self, *args: Any, **kw: Any) -> dict[str, Any]:
        return await self.real.get(*args, **kw)

    async def list(self, *args: Any, **kw: Any) -> dict[str, Any]:
        return await self.real.list(*args, **kw)

    async def create(self, res: client.Resource, ns: str | None, body: Any) -> dict[str, Any]:
        self.writes += 1
        return dict(body)

    async def replace(
        self, res: client.Resource, ns: str | None, name: str, body: Any, **kw: Any
    ) -> dict[str, Any]:
        self.writes += 1
        return dict(body)

    async def patch(
        self, res: client.Resource, ns: str | None, name: str, body: Any, **kw: Any
    ) -> dict[str, Any]:
        self.writes += 1
        return {"metadata": {"name": name, "namespace": ns, "resourceVersion": "1"}}

    async def delete(self, res: client.Resource, ns: str | None, name: str) -> dict[str, Any]:
        self.writes += 1
        return {}


async def _until(check: Callable[[], Awaitable[Any]], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout:.0f}s")
        await asyncio.sleep(0.1)


def _workload(api_version: str, kind: str, app: str, n: int, **strategy: Any) -> dict[str, Any]:
    """``n`` replicas of pod ``app`` at game:v0 in ``NS``, rolled out by ``strategy`` (the spec field)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": app, "namespace": NS},
        "spec": {
            "replicas": n,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "main", "image": "game:v0"}]},
            },
            **strategy,
        },
    }


def _image_patch(image: str) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}]


async def _gd_done(kube: client.KubeClient, n: int, old_rev: str | None) -> dict[str, Any] | None:
    obj = await kube.get(model.GAMEDEPLOYMENTS, NS, "bench")
    st = obj.get("status") or {}
    fresh = (
        st.get("observedGeneration") == obj["metadata"].get("generation")
        and st.get("updateRevision") != old_rev
    )
    full = st.get("replicas") == n and st.get("updatedReadyReplicas") == n and st.get("readyReplicas") == n
    return st if fresh and full else None


async def _deploy_done(kube: client.KubeClient, n: int) -> bool:
    obj = await kube.get(DEPLOYMENTS, NS, "base")
    st = obj.get("status") or {}
    return (
        st.get("observedGeneration") == obj["metadata"].get("generation")
        and st.get("replicas") == n
        and st.get("updatedReplicas") == n
        and st.get("availableReplicas") == n
    )


async def _rollout_gd(kube: client.KubeClient, n: int, image: str, timeout: float) -> float:
    old = (await _gd_done(kube, n, None)) or {}
    start = time.perf_counter()
    await kube.patch(model.GAMEDEPLOYMENTS, NS, "bench", _image_patch(image), patch_type=client.JSON_PATCH)
    await _until(
        lambda: _gd_done(kube, n, old.get("updateRevision")), timeout=timeout, what="GameDeployment rollout"
    )
    return time.perf_counter() - start


async def _rollout_deploy(kube: client.KubeClient, n: int, image: str, timeout: float) -> float:
    start = time.perf_counter()
    await kube.patch(DEPLOYMENTS, NS, "base", _image_patch(image), patch_type=client.JSON_PATCH)
    await _until(lambda: _deploy_done(kube, n), timeout=timeout, what="Deployment rollout")
    return time.perf_counter() - start


async def _quiet(ctl: gd_controller.GameDeploymentController) -> None:
    """Wait until the operator's queued Events are posted: they must not load the next measurement."""

    async def drained() -> bool:
        return ctl.recorder.pending() == 0 and len(ctl.queue) == 0

    await _until(drained, timeout=120, what="the operator's Events posted")


async def _pass_cpu(ctl: gd_controller.GameDeploymentController, key: str, passes: int) -> tuple[float, int]:
    """Median CPU ms of ``passes`` reconciles of ``key`` (writes absorbed) and the writes of one pass."""
    absorb = ctl.kube
    assert isinstance(absorb, Absorb)
    times, writes = [], 0
    for _ in range(passes):
        ctl.expectations = expectations.Expectations()
        before = absorb.writes
        t0 = time.process_time()
        await ctl.reconcile(key)
        times.append((time.process_time() - t0) * 1000)
        writes = absorb.writes - before
    return statistics.median(times), writes


async def _cpu_bench(kube: client.KubeClient, n: int, passes: int, image: str) -> None:
    ctl = gd_controller.GameDeploymentController(kube, namespace=NS)
    infs = (ctl.informer, ctl.pods, ctl.revisions, ctl.hookruns, ctl.nodes)
    tasks = [asyncio.create_task(i.run(), name=f"bench informer {i.resource.plural}") for i in infs]
    try:
        await asyncio.gather(*(i.wait_synced() for i in infs))
        key = f"{NS}/bench"
        absorb = Absorb(kube)
        real = ctl.kube

        def use(k: Any) -> None:
            ctl.kube = ctl.recorder.kube = ctl.glue.kube = k

        use(absorb)
        idle, _ = await _pass_cpu(ctl, key, passes)
        print(f"  idle pass (all {n} pods up to date):          {idle:7.2f} ms CPU (median of {passes})")
        await kube.patch(
            model.GAMEDEPLOYMENTS, NS, "bench", _image_patch(image), patch_type=client.JSON_PATCH
        )

        async def seen() -> bool:
            obj = ctl.informer.get(key) or {}
            return (obj.get("spec") or {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get(
                "image"
            ) == image

        await _until(seen, timeout=30, what="the new template in the cache")
        revs = len(ctl.owned(ctl.revisions, ctl.informer.get(key) or {}))
        use(real)  # one real pass: the new ControllerRevision and the canary reset reach the server
        await ctl.reconcile(key)

        async def settled() -> bool:
            gd = ctl.informer.get(key) or {}
            return len(ctl.owned(ctl.revisions, gd)) > revs and bool(
                (gd.get("status") or {}).get("updateRevision")
            )

        await _until(settled, timeout=30, what="the new revision in the cache")
        use(absorb)
        busy, writes = await _pass_cpu(ctl, key, passes)
        verdict = "meets" if busy <= GOAL_MS else "misses"
        print(
            f"  pass starting the in-place update ({writes} writes absorbed): {busy:7.2f} ms CPU "
            f"(median of {passes}; goal <= {GOAL_MS:.0f} ms: {verdict}, {busy / GOAL_MS:.2f}x the goal)"
        )
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def _simulator(tmp: pathlib.Path, nodes: int) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCS_")}
    args = ["sim", "kube", "--http", "--nodes", str(nodes), "--node-heartbeat-interval", "0"]
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [sys.executable, "-m", "bcs", *args, "--kubeconfig-out", str(tmp)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        m = SIM_LINE.search(line)
        if not m:
            raise RuntimeError(f"bcs sim kube did not start: {line!r}")
        async with await client.connect(m.group(2)) as kube:
            yield kube
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)


async def run(args: argparse.Namespace) -> None:
    n = args.pods
    nodes = max(3, (2 * n) // 100 + 2)  # room for both workloads at 110 pods per node
    timeout = max(120.0, n * 0.3)
    with tempfile.TemporaryDirectory() as tmp:
        async with _simulator(pathlib.Path(tmp), nodes) as kube:
            await cli.apply_crds(kube)
            ctl = gd_controller.GameDeploymentController(kube, namespace=NS)
            task = asyncio.create_task(ctl.run(), name="bench gd controller")
            try:
                gd = _workload(
                    "tkex.tencent.com/v1alpha1",
                    "GameDeployment",
                    "bench",
                    n,
                    updateStrategy={"type": "InplaceUpdate", "maxUnavailable": "20%"},
                )
                deploy = _workload(
                    "apps/v1",
                    "Deployment",
                    "base",
                    n,
                    strategy={"rollingUpdate": {"maxUnavailable": "20%", "maxSurge": 0}},
                )
                start = time.perf_counter()
                await kube.create(model.GAMEDEPLOYMENTS, NS, gd)
                await _until(lambda: _gd_done(kube, n, None), timeout=timeout, what="GameDeployment ready")
                took_gd = time.perf_counter() - start
                await _quiet(ctl)
                start = time.perf_counter()
                await kube.create(DEPLOYMENTS, NS, deploy)
                await _until(lambda: _deploy_done(kube, n), timeout=timeout, what="Deployment ready")
                took_dep = time.perf_counter() - start
                print(
                    f"{n} pods on {nodes} simulated nodes (bcs sim kube in its own process, plain HTTP on "
                    f"loopback); {os.cpu_count()} cores shared"
                )
                print(f"  scale-up to {n}: GameDeployment {took_gd:.1f}s, Deployment {took_dep:.1f}s")
                gd_times, dep_times = [], []
                for r in range(1, args.rounds + 1):
                    gd_times.append(await _rollout_gd(kube, n, f"game:v{r}", timeout))
                    await _quiet(ctl)
                    dep_times.append(await _rollout_deploy(kube, n, f"game:v{r}", timeout))
                gd_med, dep_med = statistics.median(gd_times), statistics.median(dep_times)
                print(f"full rollout of {n} pods, maxUnavailable 20%, median of {args.rounds}:")
                print(f"  simulator Deployment (delete + recreate): {dep_med:6.2f}s  {_all(dep_times)}")
                print(
                    f"  GameDeployment InplaceUpdate:             {gd_med:6.2f}s  {_all(gd_times)}"
                    f"  = {gd_med / dep_med:.2f}x the Deployment"
                )
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            print(f"one GameDeployment reconcile pass over {n} pods, warmed caches, API writes absorbed:")
            await _cpu_bench(kube, n, args.passes, f"game:v{args.rounds + 1}")


def _all(times: list[float]) -> str:
    return "(" + ", ".join(f"{t:.2f}" for t in times) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pods", type=int, default=1000, help="pods of the GameDeployment and the Deployment"
    )
    parser.add_argument("--passes", type=int, default=20, help="timed reconcile passes per case")
    parser.add_argument("--rounds", type=int, default=3, help="rollouts of each workload")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
