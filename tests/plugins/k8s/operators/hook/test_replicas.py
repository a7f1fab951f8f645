"""Two operator replicas on one cluster: only the leader reconciles; a crashed leader is replaced."""

from __future__ import annotations

import asyncio
from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import cli
from bcs.plugins.k8s.operators.hook import model
from tests.plugins.k8s.conftest import WebTarget, until
from tests.plugins.k8s.operators.hook.cases import OK

TIMING = {"lease_duration": 1.5, "renew_deadline": 1.0, "retry_period": 0.2}


def _run(name: str, url: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": url}}}]},
    }


async def _phase(kube: client.KubeClient, name: str) -> str:
    obj = await kube.get(model.HOOKRUNS, "default", name)
    return (obj.get("status") or {}).get("phase") or ""


async def test_only_the_leader_acts_and_a_crash_hands_over(
    hook_crds: client.KubeClient, leases: client.KubeClient, web_target: WebTarget
) -> None:
    kube = hook_crds
    url = web_target.script("ok", OK)
    built: dict[str, list[Any]] = {"a": [], "b": []}

    def replica(identity: str) -> asyncio.Task[None]:
        coro = cli.run_operators(
            kube,
            identity=identity,
            lease_namespace="default",
            release_on_cancel=False,  # simulate a crash: the Lease keeps naming the dead leader
            controllers=built[identity],
            **TIMING,
        )
        return asyncio.create_task(coro, name=f"replica {identity}")

    a = replica("a")
    await until(lambda: built["a"], what="replica a leads")
    b = replica("b")
    try:
        await kube.create(model.HOOKRUNS, "default", _run("first", url))
        await until(lambda: _phase(kube, "first"), what="first run handled")
        await until(lambda: _is(kube, "first", model.SUCCESSFUL), what="first run successful")
        assert built["b"] == []  # the follower never built a controller
        assert built["a"][0].reconciles >= 1

        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
        await kube.create(model.HOOKRUNS, "default", _run("second", url))
        await until(lambda: built["b"], timeout=TIMING["lease_duration"] * 4, what="replica b takes over")
        await until(lambda: _is(kube, "second", model.SUCCESSFUL), what="second run successful")
        assert built["b"][0].reconciles >= 1
        lease = await kube.get(client.Resource("coordination.k8s.io", "v1", "leases", "Lease"), "default",
                               "bcs-operators")  # fmt: skip
        assert lease["spec"]["holderIdentity"] == "b"
    finally:
        for t in (a, b):
            t.cancel()
        await asyncio.gather(a, b, return_exceptions=True)


async def _is(kube: client.KubeClient, name: str, phase: str) -> bool:
    return await _phase(kube, name) == phase
