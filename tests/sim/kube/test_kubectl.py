"""The real kubectl against the simulator: the "done when" list of issue 3."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bcs.sim.kube import cli, cluster
from tests.sim.kube import manifests
from tests.sim.kube.conftest import Kubectl, until


def _pods(sim: cluster.KubeSim, **labels: str) -> list[dict]:
    rt = sim.cluster.registry.builtin("", "pods")
    return [
        o.decode()
        for o in sim.cluster.store.iter(rt, "default")
        if all((o.labels or {}).get(k) == v for k, v in labels.items())
    ]


async def test_deployment_lifecycle(kube_sim: cluster.KubeSim, kubectl: Kubectl) -> None:
    res = await kubectl("apply", "-f", "-", stdin=manifests.APP)
    assert "deployment.apps/web created" in res.out
    assert "service/web created" in res.out
    res = await kubectl("apply", "-f", "-", stdin=manifests.APP)
    assert "deployment.apps/web unchanged" in res.out
    assert "service/web unchanged" in res.out
    res = await kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    assert 'deployment "web" successfully rolled out' in res.out

    res = await kubectl("get", "pods", "-o", "wide")
    lines = res.out.splitlines()
    assert lines[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert len(lines) == 4
    for line in lines[1:]:
        cells = line.split()
        assert cells[1:3] == ["1/1", "Running"]
        assert cells[6].startswith("node-")

    res = await kubectl("scale", "deploy/web", "--replicas=4")
    assert "deployment.apps/web scaled" in res.out
    await kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    assert len(_pods(kube_sim, app="web")) == 4

    # The three patch types.
    patch = '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}'
    assert "patched" in (await kubectl("patch", "deploy", "web", "-p", patch)).out
    await kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    await until(
        lambda: {p["spec"]["containers"][0]["image"] for p in _pods(kube_sim, app="web")} == {"nginx:1.26"},
        what="pods on the new image",
    )
    res = await kubectl(
        "patch", "deploy", "web", "--type=merge", "-p", '{"metadata":{"labels":{"tier":"front"}}}'
    )
    assert "patched" in res.out
    res = await kubectl(
        "patch", "deploy", "web", "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]'
    )
    assert "patched" in res.out
    await until(lambda: len(_pods(kube_sim, app="web")) == 2, what="scale down to 2")
    res = await kubectl("get", "deploy", "web", "-o", "json")
    deploy = json.loads(res.out)
    assert deploy["metadata"]["labels"]["tier"] == "front"
    assert deploy["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]

    ep_rt = kube_sim.cluster.registry.builtin("", "endpoints")
    await until(
        lambda: (
            len(
                ((kube_sim.cluster.api.get(ep_rt, "default", "web").get("subsets") or [{}])[0]).get(
                    "addresses"
                )
                or []
            )
            == 2
        ),
        what="endpoints to follow the pods",
    )

    res = await kubectl("logs", "deploy/web", "--tail=1")
    assert len(res.out.splitlines()) == 1
    assert "nginx" in res.out
    res = await kubectl("exec", "deploy/web", "--", "echo", "hi")
    assert res.out == "hi\n"
    res = await kubectl("exec", "deploy/web", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (res.rc, res.out) == (3, "out\n")
    assert "err" in res.err
    assert "command terminated with exit code 3" in res.err

    res = await kubectl("delete", "deploy", "web")
    assert 'deployment.apps "web" deleted' in res.out
    await until(lambda: not _pods(kube_sim, app="web"), what="cascading delete of pods")
    rs_rt = kube_sim.cluster.registry.builtin("apps", "replicasets")
    assert kube_sim.cluster.store.count(rs_rt) == 0


async def test_server_side_apply_is_idempotent(kube_sim: cluster.KubeSim, kubectl: Kubectl) -> None:
    res = await kubectl("apply", "--server-side", "-f", "-", stdin=manifests.SSA)
    assert "configmap/ssa serverside-applied" in res.out
    rv1 = (await kubectl("get", "cm", "ssa", "-o", "jsonpath={.metadata.resourceVersion}")).out
    res = await kubectl("apply", "--server-side", "-f", "-", stdin=manifests.SSA)
    assert "configmap/ssa serverside-applied" in res.out
    rv2 = (await kubectl("get", "cm", "ssa", "-o", "jsonpath={.metadata.resourceVersion}")).out
    assert rv1 == rv2
    # A field the applier stops sending is removed; one it changes is updated.
    await kubectl(
        "apply", "--server-side", "-f", "-", stdin=manifests.SSA.replace(', b: "2"', "").replace('"1"', '"9"')
    )
    data = json.loads((await kubectl("get", "cm", "ssa", "-o", "json")).out)
    assert data["data"] == {"a": "9"}
    assert data["metadata"]["labels"] == {"tier": "one"}
    # Another manager's conflicting value is refused unless forced.
    await kubectl("patch", "cm", "ssa", "--type=merge", "-p", '{"data":{"a":"other"}}')
    res = await kubectl("apply", "--server-side", "-f", "-", stdin=manifests.SSA, check=False)
    assert res.rc == 1
    assert 'conflict with "kubectl-patch"' in res.err
    res = await kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifests.SSA)
    assert "serverside-applied" in res.out


async def test_discovery_explain_and_errors(kube_sim: cluster.KubeSim, kubectl: Kubectl) -> None:
    res = await kubectl("version")
    assert "Server Version: v1.32.4" in res.out
    res = await kubectl("api-resources")
    rows = {line.split()[0]: line.split() for line in res.out.splitlines()[1:]}
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["nodes"][1:] == ["no", "v1", "false", "Node"]
    res = await kubectl("explain", "pod.spec.containers")
    assert "KIND:       Pod" in res.out
    assert "<[]Container>" in res.out
    assert "List of containers" in res.out
    res = await kubectl("get", "deploy", "nosuch", check=False)
    assert res.rc == 1
    assert 'Error from server (NotFound): deployments.apps "nosuch" not found' in res.err
    bad = manifests.APP.split("---")[0].replace("replicas: 3", "replicas: -1")
    res = await kubectl("apply", "-f", "-", stdin=bad, check=False)
    assert 'The Deployment "web" is invalid' in res.err
    assert "spec.replicas" in res.err


async def test_custom_resources(kube_sim: cluster.KubeSim, kubectl: Kubectl) -> None:
    await kubectl("apply", "-f", "-", stdin=manifests.CRD)
    res = await kubectl("wait", "--for=condition=established", "crd/widgets.example.com", "--timeout=10s")
    assert "condition met" in res.out
    assert "widget.example.com/w1 created" in (await kubectl("apply", "-f", "-", stdin=manifests.WIDGET)).out
    assert (
        "widget.example.com/w1 unchanged" in (await kubectl("apply", "-f", "-", stdin=manifests.WIDGET)).out
    )
    res = await kubectl("get", "wg")
    assert res.out.split() == ["NAME", "SIZE", "COLOR", "w1", "2", "red"]
    await kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":3}}')
    res = await kubectl("patch", "widget", "w1", "-p", '{"spec":{"size":4}}', check=False)
    assert res.rc == 1
    assert "application/strategic-merge-patch+json is not supported" in res.err
    await kubectl(
        "patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", '{"status":{"size":3}}'
    )
    assert "scaled" in (await kubectl("scale", "widget", "w1", "--replicas=5")).out
    res = await kubectl(
        "get", "widget", "w1", "-o", "jsonpath={.spec.size} {.status.size} {.metadata.generation}"
    )
    assert res.out == "5 3 3"
    res = await kubectl("get", "widgets", "--field-selector=spec.color=blue")
    assert "No resources found" in res.err
    await kubectl(
        "apply",
        "-f",
        "-",
        stdin='{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g1"},"x":1}',
    )
    assert (await kubectl("get", "gadgets", "-o", "name")).out == "gadget.example.com/g1\n"
    await kubectl("delete", "widget", "w1")
    assert "No resources found" in (await kubectl("get", "widgets")).err


async def test_get_watch_streams_changes(kube_sim: cluster.KubeSim, kubectl: Kubectl) -> None:
    await kubectl("get", "pods")  # warm the discovery cache so the watch starts promptly
    proc = await asyncio.create_subprocess_exec(
        "/usr/bin/kubectl",
        f"--kubeconfig={kubectl.kubeconfig}",
        f"--cache-dir={kubectl.cache}",
        "get",
        "pods",
        "-w",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        rt = kube_sim.cluster.registry.builtin("", "pods")
        await until(lambda: kube_sim.cluster.hub.count() > 0, what="kubectl to start watching")
        kube_sim.cluster.api.create(
            rt,
            "default",
            {"metadata": {"name": "watched"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
        )
        seen: list[str] = []
        while not any("watched" in ln and "Running" in ln for ln in seen):
            line = await asyncio.wait_for(proc.stdout.readline(), 20)  # type: ignore[union-attr]
            assert line, "kubectl get -w ended early"
            seen.append(line.decode())
        assert any("Pending" in ln or "ContainerCreating" in ln for ln in seen)
    finally:
        proc.terminate()
        await proc.wait()


async def test_cli_kubeconfig_out(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    args = parser.parse_args(
        [
            "--clusters",
            "2",
            "--kubeconfig-out",
            str(tmp_path / "kc"),
            "--nodes",
            "2",
            "--node-heartbeat-interval",
            "0",
        ]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(cli.serve(args, stop))
    try:
        paths = [tmp_path / "kc" / f"sim-{i}.kubeconfig" for i in range(2)]
        await until(lambda: all(p.exists() for p in paths), what="kubeconfigs")
        for i, path in enumerate(paths):
            (tmp_path / f"h{i}").mkdir()
            k = Kubectl(str(path), tmp_path / f"h{i}" / "cache")
            res = await k("get", "nodes", "-o", "name")
            assert res.out.split() == ["node/node-0", "node/node-1"]
    finally:
        stop.set()
        assert await task == 0
