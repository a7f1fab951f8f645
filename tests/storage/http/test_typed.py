"""The typed query API (GET and POST) for Kubernetes and Mesos types, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from bcs.storage.http import typed

from .conftest import PREFIX
from .test_dynamic import ok

K8S = f"{PREFIX}/k8s/dynamic/namespace_resources/clusters/BCS-K8S-1/namespaces"
K8S_CL = f"{PREFIX}/k8s/dynamic/cluster_resources/clusters/BCS-K8S-1"
MESOS = f"{PREFIX}/mesos/dynamic/namespace_resources/clusters/BCS-MESOS-1/namespaces"


def q(env: str, cluster: str, kind: str) -> str:
    return f"{PREFIX}/query/{env}/dynamic/clusters/{cluster}/{kind}"


async def put(client: Any, path: str, data: dict[str, Any]) -> None:
    await ok(await client.put(path, json={"data": data}))


async def query(client: Any, path: str, *, post: bool = False, **params: Any) -> list[str]:
    resp = await (client.post(path, json=params) if post else client.get(path, params=params))
    body = await ok(resp)
    assert body["total"] == len(body["data"]) or "limit" in params
    return [d["resourceName"] for d in body["data"]]


@pytest.mark.parametrize("post", [False, True], ids=["get", "post"])
async def test_pod_queries(client: Any, post: bool) -> None:
    pods = [
        ("a", "p1", "127.0.0.1", "Running", "2024-01-01T00:00:00Z"),
        ("a", "p2", "127.0.0.2", "Pending", "2024-01-02T00:00:00Z"),
        ("b", "p3", "127.0.0.1", "Running", "2024-01-03T00:00:00Z"),
    ]
    for ns, name, host, phase, started in pods:
        data = {
            "metadata": {"name": name, "creationTimestamp": started},
            "status": {"hostIP": host, "podIP": f"127.16.0.{name[-1]}", "phase": phase, "startTime": started},
        }
        await put(client, f"{K8S}/{ns}/Pod/{name}", data)
    path = q("k8s", "BCS-K8S-1", "pod")
    assert await query(client, path, post=post) == ["p1", "p2", "p3"]
    assert await query(client, path, post=post, hostIp="127.0.0.1") == ["p1", "p3"]
    assert await query(client, path, post=post, status="Pending,Failed") == ["p2"]
    assert await query(client, path, post=post, namespace="a", name="p1,p2,p3") == ["p1", "p2"]
    assert await query(client, path, post=post, podIp="127.16.0.3") == ["p3"]
    # 2024-01-02T00:00:00Z is 1704153600
    assert await query(client, path, post=post, startTimeBegin=1704153600) == ["p2", "p3"]
    assert await query(client, path, post=post, startTimeEnd=1704153600) == ["p1", "p2"]
    assert await query(client, path, post=post, createTimeBegin=1704153601, createTimeEnd=1804153600) == [
        "p3"
    ]
    assert await query(client, q("k8s", "BCS-K8S-9", "pod"), post=post) == []


async def test_workload_queries_compare_numbers_and_strings(client: Any) -> None:
    for name, replicas, strategy in (("d1", 1, "Recreate"), ("d2", 3, "RollingUpdate")):
        data = {"spec": {"strategy": {"type": strategy}}, "status": {"replicas": replicas}}
        await put(client, f"{K8S}/a/Deployment/{name}", data)
    await put(
        client, f"{K8S}/a/StatefulSet/s1", {"metadata": {"generation": 4}, "spec": {"serviceName": "db"}}
    )
    await put(client, f"{K8S_CL}/Node/n1", {"spec": {"externalID": "ext-1"}})

    assert await query(client, q("k8s", "BCS-K8S-1", "deployment"), replicas="3,4") == ["d2"]
    assert await query(client, q("k8s", "BCS-K8S-1", "deployment"), strategyType="Recreate") == ["d1"]
    assert await query(client, q("k8s", "BCS-K8S-1", "statefulset"), generation="4", serviceName="db") == [
        "s1"
    ]
    assert await query(client, q("k8s", "BCS-K8S-1", "node"), externalID="ext-1") == ["n1"]
    body = await ok(await client.get(q("k8s", "BCS-K8S-1", "deployment"), params={"field": "data.status"}))
    assert body["data"] == [{"data": {"status": {"replicas": 1}}}, {"data": {"status": {"replicas": 3}}}]


async def test_mesos_types(client: Any) -> None:
    await put(client, f"{MESOS}/ns/application/app1", {"kind": "app", "instance": 2, "status": "Running"})
    await put(
        client, f"{MESOS}/ns/application/proc1", {"kind": "process", "instance": 1, "status": "Running"}
    )
    await put(
        client, f"{MESOS}/ns/taskgroup/tg1", {"rcname": "app1", "hostIP": "127.1.1.1", "status": "Running"}
    )
    await put(client, f"{MESOS}/ns/deployment/dep1", {"is_in_rolling": True, "check_time": 1700000000})

    cluster = "BCS-MESOS-1"
    assert await query(client, q("mesos", cluster, "application")) == ["app1"]
    assert await query(client, q("mesos", cluster, "process")) == ["proc1"]
    assert await query(client, q("mesos", cluster, "application"), instance="2", status="Running") == ["app1"]
    assert await query(client, q("mesos", cluster, "taskgroup"), rcName="app1", hostIp="127.1.1.1") == ["tg1"]
    assert await query(client, q("mesos", cluster, "deployment"), isInRolling="true") == ["dep1"]
    assert await query(client, q("mesos", cluster, "deployment"), isInRolling="false") == []
    assert await query(client, q("mesos", cluster, "deployment"), checkTime="1700000000") == ["dep1"]


@pytest.mark.parametrize(
    ("kind", "params", "naming"),
    [
        ("pod", {"nodeName": "x"}, "nodeName"),
        ("deployment", {"replicas": "many"}, "replicas"),
        ("pod", {"startTimeBegin": "soon"}, "startTimeBegin"),
        ("pod", {"labelSelector": "a=(b"}, "labelSelector"),
    ],
)
async def test_bad_typed_queries(client: Any, kind: str, params: dict[str, str], naming: str) -> None:
    resp = await client.get(q("k8s", "BCS-K8S-1", kind), params=params)
    body = await resp.json()
    assert resp.status == 400
    assert naming in body["message"]


async def test_unknown_type_is_404(client: Any) -> None:
    resp = await client.get(q("k8s", "BCS-K8S-1", "taskgroup"))
    assert resp.status == 404
    assert "pod" in (await resp.json())["message"]


def test_the_listed_types_are_served() -> None:
    wanted_k8s = {"pod", "deployment", "replicaset", "statefulset", "daemonset", "service", "node"}
    wanted_k8s |= {"namespace", "configmap", "secret", "ingress", "endpoints"}
    assert wanted_k8s <= set(typed.TYPES["k8s"])
    assert {"taskgroup", "application", "deployment"} <= set(typed.TYPES["mesos"])
