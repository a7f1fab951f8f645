"""Built-in controllers: scheduler, kubelet, StatefulSet, DaemonSet, events, heartbeats, churn."""

from __future__ import annotations

from typing import Any

from bcs.sim.kube import cluster
from bcs.sim.kube.controllers import kubelet
from tests.sim.kube.conftest import until


def _rt(sim: cluster.KubeSim, group: str, plural: str) -> Any:
    return sim.cluster.registry.builtin(group, plural)


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}], **spec},
    }


def _get(sim: cluster.KubeSim, name: str, ns: str = "default") -> dict[str, Any] | None:
    return sim.cluster.api.find(_rt(sim, "", "pods"), ns, name)


def _phase(sim: cluster.KubeSim, name: str) -> str:
    pod = _get(sim, name)
    return (pod or {}).get("status", {}).get("phase", "")


async def test_scheduler_constraints(kube_sim: cluster.KubeSim) -> None:
    api, nodes = kube_sim.cluster.api, _rt(kube_sim, "", "nodes")
    api.mutate(nodes, None, "node-1", lambda n: n["metadata"]["labels"].update(disk="ssd"))
    api.mutate(
        nodes,
        None,
        "node-2",
        lambda n: n["spec"].update(taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
    )
    pods = _rt(kube_sim, "", "pods")
    api.create(pods, "default", _pod("sel", nodeSelector={"disk": "ssd"}))
    api.create(
        pods,
        "default",
        _pod(
            "tol",
            nodeSelector={"kubernetes.io/hostname": "node-2"},
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}],
        ),
    )
    api.create(pods, "default", _pod("untol", nodeSelector={"kubernetes.io/hostname": "node-2"}))
    big = _pod("big")
    big["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "64"}}
    api.create(pods, "default", big)
    await until(
        lambda: _phase(kube_sim, "sel") == "Running" and _phase(kube_sim, "tol") == "Running",
        what="scheduling",
    )
    assert _get(kube_sim, "sel")["spec"]["nodeName"] == "node-1"
    assert _get(kube_sim, "tol")["spec"]["nodeName"] == "node-2"
    for name, why in (("untol", "untolerated taint"), ("big", "Insufficient cpu")):
        pod = await until(
            lambda n=name: (
                _get(kube_sim, n) if _get(kube_sim, n).get("status", {}).get("conditions") else None
            ),
            what="unschedulable condition",
        )
        cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
        assert cond["status"] == "False"
        assert cond["reason"] == "Unschedulable"
        assert why in cond["message"]
        assert "nodeName" not in pod["spec"]
    # Removing the taint lets the waiting pod in.
    api.mutate(nodes, None, "node-2", lambda n: n["spec"].pop("taints"))
    await until(lambda: _phase(kube_sim, "untol") == "Running", what="pod scheduled after untaint")
    events = [o.decode() for o in kube_sim.cluster.store.iter(_rt(kube_sim, "", "events"), "default")]
    reasons = {(e["involvedObject"]["name"], e["reason"]) for e in events}
    assert {
        ("sel", "Scheduled"),
        ("sel", "Pulled"),
        ("sel", "Started"),
        ("big", "FailedScheduling"),
    } <= reasons


async def test_kubelet_status_restart_and_hot_patch(kube_sim: cluster.KubeSim) -> None:
    api, pods = kube_sim.cluster.api, _rt(kube_sim, "", "pods")
    gated = _pod("gated", readinessGates=[{"conditionType": "example.com/ok"}])
    gated["spec"]["containers"].append({"name": "side", "image": "busybox:1.36"})
    api.create(pods, "default", gated)
    await until(lambda: _phase(kube_sim, "gated") == "Running", what="pod running")
    pod = _get(kube_sim, "gated")
    st = pod["status"]
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds["ContainersReady"] == "True"
    assert conds["Ready"] == "False"
    assert st["podIP"]
    assert st["hostIP"].startswith("10.0.")
    main = st["containerStatuses"][0]
    assert main["imageID"] == kubelet.image_id("nginx:1.25")
    assert main["imageID"].startswith("docker.io/library/nginx@sha256:")
    # The readiness gate's condition turns the pod Ready.
    api.mutate(
        pods,
        "default",
        "gated",
        lambda p: p["status"]["conditions"].append({"type": "example.com/ok", "status": "True"}),
        sub="status",
    )

    def ready() -> bool:
        return any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in _get(kube_sim, "gated")["status"]["conditions"]
        )

    await until(ready, what="Ready after the readiness gate")
    # An in-place image change restarts only that container.
    api.mutate(pods, "default", "gated", lambda p: p["spec"]["containers"][0].update(image="nginx:1.26"))

    def status_of(name: str) -> dict[str, Any]:
        return next(c for c in _get(kube_sim, "gated")["status"]["containerStatuses"] if c["name"] == name)

    await until(lambda: status_of("c")["restartCount"] == 1, what="container restart")
    c, side = status_of("c"), status_of("side")
    assert c["imageID"] == kubelet.image_id("nginx:1.26")
    assert c["lastState"]["terminated"]["reason"] == "Completed"
    assert side["restartCount"] == 0
    # With the hot-patch annotation the image changes without a restart.
    api.mutate(
        pods,
        "default",
        "gated",
        lambda p: p["metadata"].setdefault("annotations", {}).update({kubelet.HOT_PATCH_ANNOTATION: "true"}),
    )
    api.mutate(pods, "default", "gated", lambda p: p["spec"]["containers"][1].update(image="busybox:1.37"))
    await until(lambda: status_of("side")["imageID"] == kubelet.image_id("busybox:1.37"), what="hot patch")
    assert status_of("side")["restartCount"] == 0
    assert status_of("c")["restartCount"] == 1


async def test_statefulset_ordinals_and_daemonset(kube_sim: cluster.KubeSim) -> None:
    api = kube_sim.cluster.api
    tmpl = {
        "metadata": {"labels": {"app": "db"}},
        "spec": {"containers": [{"name": "db", "image": "postgres:16"}]},
    }
    sts = {
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": tmpl,
        },
    }
    sts_rt = _rt(kube_sim, "apps", "statefulsets")
    api.create(sts_rt, "default", sts)

    def ready_replicas() -> int:
        return (api.find(sts_rt, "default", "db") or {}).get("status", {}).get("readyReplicas", 0)

    await until(lambda: ready_replicas() == 3, what="statefulset ready")
    assert [_get(kube_sim, f"db-{i}")["spec"]["hostname"] for i in range(3)] == ["db-0", "db-1", "db-2"]
    api.mutate(sts_rt, "default", "db", lambda s: s["spec"].update(replicas=1))
    await until(lambda: _get(kube_sim, "db-1") is None and _get(kube_sim, "db-2") is None, what="scale down")
    assert _get(kube_sim, "db-0") is not None
    crs = list(kube_sim.cluster.store.iter(_rt(kube_sim, "apps", "controllerrevisions"), "default"))
    assert len(crs) == 1

    ds_rt = _rt(kube_sim, "apps", "daemonsets")
    ds_tmpl = {
        "metadata": {"labels": {"app": "agent"}},
        "spec": {"containers": [{"name": "a", "image": "agent:1"}]},
    }
    api.create(
        ds_rt,
        "default",
        {
            "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": ds_tmpl},
        },
    )

    def ds_ready() -> bool:
        st = (api.find(ds_rt, "default", "agent") or {}).get("status", {})
        return st.get("numberReady") == 3 and st.get("desiredNumberScheduled") == 3

    await until(ds_ready, what="daemonset on every node")
    pods = kube_sim.cluster.store.select(_rt(kube_sim, "", "pods"), "default", (("app", "=", ("agent",)),))[0]
    assert sorted(p.fields[0] for p in pods) == ["node-0", "node-1", "node-2"]


async def test_node_heartbeats_and_churn() -> None:
    async with cluster.KubeSim(nodes=2, seed=3, tls=False, node_heartbeat_interval=0.05, churn=200) as sim:
        nodes = sim.cluster.registry.builtin("", "nodes")
        before = sim.cluster.store.get(nodes, "", "node-0").rv
        await until(lambda: sim.cluster.store.get(nodes, "", "node-0").rv > before, what="a heartbeat")
        assert sim.cluster.churn is not None
        await until(lambda: sim.cluster.churn.changes >= 20, what="churn")
        assert sim.cluster.store.count(sim.cluster.registry.builtin("", "pods")) > 0
