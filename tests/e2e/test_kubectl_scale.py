"""``kubectl scale`` on the game workloads, with real processes: ``bcs sim kube``, ``bcs crds install``,
``bcs operator`` (GameDeployment + GameStatefulSet behind its Lease) and /usr/bin/kubectl.

The scale subresource of the CRDs is what ``kubectl scale`` writes; the operator must then converge
the pods. ``kubectl get`` must print the CRDs' printer columns.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import re
import signal
import sys
from collections.abc import AsyncIterator

import attrs
import pytest

from bcs.plugins.k8s.kube import client, leader
from tests import services
from tests.e2e import conftest
from tests.sim.kube.conftest import Kubectl

KUBECTL = "/usr/bin/kubectl"
SIM_LINE = re.compile(r"cluster sim-0: (\S+) kubeconfig=(\S+)")
pytestmark = pytest.mark.e2e

MANIFESTS = """
apiVersion: tkex.tencent.com/v1alpha1
kind: GameDeployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: "game:v1"}]
  updateStrategy: {type: InplaceUpdate}
---
apiVersion: tkex.tencent.com/v1alpha1
kind: GameStatefulSet
metadata: {name: gs}
spec:
  replicas: 1
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: gs}}
  template:
    metadata: {labels: {app: gs}}
    spec:
      containers: [{name: main, image: "game:v1"}]
"""


@attrs.define
class World:
    kubectl: Kubectl
    kube: client.KubeClient  # polls the simulator cheaply; every action goes through kubectl

    async def ready_pods(self, app: str) -> list[str]:
        pods = client.Resource("", "v1", "pods", "Pod")
        listing = await self.kube.list(pods, "default", labelSelector=f"app={app}")
        return sorted(
            p["metadata"]["name"]
            for p in listing.get("items") or []
            if not p["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )

    async def status(self, plural: str, name: str) -> dict:
        rt = client.Resource("tkex.tencent.com", "v1alpha1", plural, "")
        return (await self.kube.get(rt, "default", name)).get("status") or {}


@pytest.fixture
async def world(tmp_path: pathlib.Path) -> AsyncIterator[World]:
    if not os.access(KUBECTL, os.X_OK):
        pytest.fail(f"{KUBECTL} is needed: this test drives the real kubectl binary")
    sim = conftest.Process.start("sim", "kube", "--nodes", "2", "--kubeconfig-out", str(tmp_path / "sim"))
    operator: conftest.Process | None = None
    try:
        match = await services.eventually(lambda: SIM_LINE.search(sim.text()), what="the simulator's address")
        kubeconfig = match.group(2)
        crds = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bcs", "crds", "install", "--kubeconfig", kubeconfig),
            cwd=conftest.ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(crds.communicate(), 60)
        assert crds.returncode == 0, out.decode()
        assert (
            "customresourcedefinition.apiextensions.k8s.io/gamedeployments.tkex.tencent.com" in out.decode()
        )
        operator = conftest.Process.start(
            *("operator", "--kubeconfig", kubeconfig, "--operators", "gamedeployment,gamestatefulset"),
            *("--retry-period", "0.2"),
        )
        (tmp_path / "home").mkdir()
        async with await client.connect(kubeconfig) as kube:
            yield World(Kubectl(kubeconfig, tmp_path / "home" / "cache"), kube)
            # SIGTERM (how Kubernetes stops a pod): the operator releases its Lease and exits 0
            stopped, operator = operator, None
            assert stopped.stop(signal.SIGTERM) == 0, stopped.text()
            assert "Traceback" not in stopped.text(), stopped.text()
            lease = await kube.get(leader.LEASES, "kube-system", "bcs-operators")
            assert lease["spec"]["holderIdentity"] == ""
    finally:
        if operator is not None:
            operator.stop(signal.SIGKILL)
        sim.stop()


async def test_kubectl_scale_game_workloads(world: World) -> None:
    kubectl = world.kubectl
    out = (await kubectl("apply", "-f", "-", stdin=MANIFESTS)).out
    assert "gamedeployment.tkex.tencent.com/web created" in out
    assert "gamestatefulset.tkex.tencent.com/gs created" in out

    async def converged(plural: str, name: str, pods: list[str] | int, **status: int) -> bool:
        ready = await world.ready_pods(name)
        if (ready != pods) if isinstance(pods, list) else (len(ready) != pods):
            return False
        st = await world.status(plural, name)
        return all(st.get(k) == v for k, v in status.items())

    full = {"replicas": 2, "readyReplicas": 2, "updatedReadyReplicas": 2}
    await services.eventually(lambda: converged("gamedeployments", "web", 2, **full), timeout=30, what="web")
    rows = (await kubectl("get", "gamedeployments")).out.splitlines()
    assert rows[0].split() == ["NAME", "DESIRED", "UPDATED", "UPDATED_READY", "READY", "TOTAL", "STEP", "AGE"]
    assert rows[1].split()[:7] == ["web", "2", "2", "2", "2", "2", "0"]

    out = (await kubectl("scale", "gamedeployment/web", "--replicas=4")).out
    assert "gamedeployment.tkex.tencent.com/web scaled" in out
    full = {"replicas": 4, "readyReplicas": 4, "updatedReadyReplicas": 4}
    await services.eventually(
        lambda: converged("gamedeployments", "web", 4, **full), timeout=30, what="web x4"
    )
    row = (await kubectl("get", "gd", "web", "--no-headers")).out.split()
    assert row[:6] == ["web", "4", "4", "4", "4", "4"]
    out = (await kubectl("scale", "gamedeployment/web", "--replicas=1")).out
    assert "gamedeployment.tkex.tencent.com/web scaled" in out
    await services.eventually(
        lambda: converged("gamedeployments", "web", 1, replicas=1), timeout=30, what="web x1"
    )

    await services.eventually(lambda: converged("gamestatefulsets", "gs", ["gs-0"]), timeout=30, what="gs-0")
    out = (await kubectl("scale", "gamestatefulset/gs", "--replicas=3")).out
    assert "gamestatefulset.tkex.tencent.com/gs scaled" in out
    full = {"replicas": 3, "readyReplicas": 3, "updatedReadyReplicas": 3, "currentReplicas": 3}
    names = ["gs-0", "gs-1", "gs-2"]
    await services.eventually(
        lambda: converged("gamestatefulsets", "gs", names, **full), timeout=30, what="gs x3"
    )
    rows = (await kubectl("get", "gamestatefulsets")).out.splitlines()
    assert rows[0].split() == [
        "NAME",
        "DESIRED",
        "UPDATED",
        "UPDATED_READY",
        "READY",
        "TOTAL",
        "CURRENT",
        "AGE",
    ]
    assert rows[1].split()[:7] == ["gs", "3", "3", "3", "3", "3", "3"]
    out = (await kubectl("scale", "gsts/gs", "--replicas=1")).out
    assert "gamestatefulset.tkex.tencent.com/gs scaled" in out
    await services.eventually(
        lambda: converged("gamestatefulsets", "gs", ["gs-0"], replicas=1), timeout=30, what="gs x1"
    )
    path = "/apis/tkex.tencent.com/v1alpha1/namespaces/default/gamestatefulsets/gs/scale"
    scale = json.loads((await kubectl("get", "--raw", path)).out)
    assert (scale["spec"]["replicas"], scale["status"]["replicas"], scale["status"]["selector"]) == (
        1,
        1,
        "app=gs",
    )
