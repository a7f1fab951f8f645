"""Dynamic resource routes on both stores: put/get/delete, lists and the §3.3 query parameters."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from .conftest import PREFIX, app_client

NS = f"{PREFIX}/k8s/dynamic/namespace_resources/clusters/BCS-K8S-1/namespaces"
CL = f"{PREFIX}/k8s/dynamic/cluster_resources/clusters/BCS-K8S-1"
ALL = f"{PREFIX}/mesos/dynamic/all_resources/clusters/BCS-K8S-1"


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "status": {"phase": "Running"}}


def b64(obj: object) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["result"], body["code"], body["message"]) == (True, 0, "success")
    return body


async def put(client: Any, path: str, data: dict[str, Any], **query: str) -> None:
    await ok(await client.put(path, json={"data": data}, params=query))


async def names(client: Any, path: str, **query: Any) -> list[str]:
    body = await ok(await client.get(path, params=query))
    return [d["resourceName"] for d in body["data"]]


async def test_put_get_delete_namespaced_resource(client: Any) -> None:
    await put(client, f"{NS}/default/Pod/web-1", pod("web-1", app="web"))

    body = await ok(await client.get(f"{NS}/default/Pod/web-1"))
    (doc,) = body["data"]
    assert {k: doc[k] for k in ("clusterId", "namespace", "resourceType", "resourceName")} == {
        "clusterId": "BCS-K8S-1",
        "namespace": "default",
        "resourceType": "Pod",
        "resourceName": "web-1",
    }
    assert doc["data"] == pod("web-1", app="web")
    assert doc["_isBcsObjectDeleted"] is False
    assert doc["createTime"].endswith("Z")
    assert doc["createTime"] == doc["updateTime"]

    await put(client, f"{NS}/default/Pod/web-1", pod("web-1", app="web2"))
    (doc2,) = (await ok(await client.get(f"{NS}/default/Pod/web-1")))["data"]
    assert doc2["createTime"] == doc["createTime"]
    assert doc2["updateTime"] > doc["updateTime"]
    assert doc2["data"]["metadata"]["labels"] == {"app": "web2"}

    await ok(await client.delete(f"{NS}/default/Pod/web-1"))
    assert (await ok(await client.get(f"{NS}/default/Pod/web-1")))["data"] == []
    assert await names(client, f"{NS}/default/Pod") == []


async def test_cluster_scoped_resources_and_lists(client: Any) -> None:
    await put(client, f"{CL}/Node/n1", {"metadata": {"name": "n1"}})
    await put(client, f"{CL}/Node/n2", {"metadata": {"name": "n2"}})
    await put(client, f"{NS}/default/Node/n1", {"metadata": {"name": "namespaced"}})

    (doc,) = (await ok(await client.get(f"{CL}/Node/n1")))["data"]
    assert "namespace" not in doc
    assert doc["data"]["metadata"]["name"] == "n1"
    assert await names(client, f"{NS}/default/Node") == ["n1"]
    assert sorted(await names(client, f"{CL}/Node")) == ["n1", "n1", "n2"]

    await ok(await client.delete(f"{CL}/Node/n1"))  # the namespaced namesake stays
    assert sorted(await names(client, ALL + "/Node")) == ["n1", "n2"]
    (left,) = (await ok(await client.get(f"{NS}/default/Node/n1")))["data"]
    assert left["data"]["metadata"]["name"] == "namespaced"


async def test_list_parameters(client: Any) -> None:
    for i, (ns, app, tier) in enumerate(
        [("a", "web", "front"), ("a", "db", "back"), ("b", "web", "front"), ("b", "cache", "")]
    ):
        labels = {"app": app, **({"tier": tier} if tier else {})}
        await put(client, f"{NS}/{ns}/Pod/p{i}", pod(f"p{i}", **labels), extra=b64({"owner": f"o{i % 2}"}))

    assert await names(client, f"{NS}/a/Pod") == ["p0", "p1"]
    assert await names(client, f"{ALL}/Pod") == ["p0", "p1", "p2", "p3"]
    # labelSelector grammar, with the URL's + for spaces
    assert await names(client, f"{ALL}/Pod", labelSelector="app=web") == ["p0", "p2"]
    assert await names(client, f"{ALL}/Pod", labelSelector="app+in+(db,cache)") == ["p1", "p3"]
    assert await names(client, f"{ALL}/Pod", labelSelector="app notin (web),tier") == ["p1"]
    assert await names(client, f"{ALL}/Pod", labelSelector="app!=web") == ["p1", "p3"]
    # extra: base64 JSON equality, nested keys join into paths
    assert await names(client, f"{ALL}/Pod", extra=b64({"owner": "o1"})) == ["p1", "p3"]
    assert await names(client, f"{ALL}/Pod", extra=b64({"data": {"metadata": {"name": "p2"}}})) == ["p2"]
    # generic k=v1,v2 IN filters; an empty value means "exists"
    assert await names(client, f"{ALL}/Pod", namespace="b", resourceName="p2,p3,p9") == ["p2", "p3"]
    assert await names(client, f"{ALL}/Pod", **{"data.metadata.labels.tier": ""}) == ["p0", "p1", "p2"]
    # paging and projection
    assert await names(client, f"{ALL}/Pod", offset="1", limit="2") == ["p1", "p2"]
    assert await names(client, f"{ALL}/Pod", limit="0") == ["p0", "p1", "p2", "p3"]  # 0: the default
    body = await ok(
        await client.get(f"{ALL}/Pod", params={"field": "resourceName,data.metadata.name", "limit": 1})
    )
    assert body["data"] == [{"resourceName": "p0", "data": {"metadata": {"name": "p0"}}}]
    # updateTimeBefore: unix seconds or the Go layout
    assert await names(client, f"{ALL}/Pod", updateTimeBefore="1000000000") == []
    assert len(await names(client, f"{ALL}/Pod", updateTimeBefore="2999-01-02T15:04:05.000Z")) == 4


async def test_default_limit_comes_from_settings(aiohttp_client: Any, make_settings: Any) -> None:

    client = await app_client(aiohttp_client, make_settings(storage={"default_limit": 2}))
    for i in range(3):
        await put(client, f"{NS}/x/Pod/p{i}", pod(f"p{i}"))
    assert await names(client, f"{NS}/x/Pod") == ["p0", "p1"]
    assert await names(client, f"{NS}/x/Pod", limit="5") == ["p0", "p1", "p2"]


async def test_batch_delete_by_update_time_window(client: Any) -> None:
    await put(client, f"{NS}/w/Pod/old", pod("old"))
    (old,) = (await ok(await client.get(f"{NS}/w/Pod/old")))["data"]
    await put(client, f"{NS}/w/Pod/new", pod("new"))
    await put(client, f"{NS}/v/Pod/other-ns", pod("other-ns"))

    # Nothing is older than an early bound.
    await ok(await client.delete(f"{NS}/w/Pod", json={"updateTimeBegin": 0, "updateTimeEnd": 1000000000}))
    assert await names(client, f"{NS}/w/Pod") == ["old", "new"]
    # updateTimeEnd bounds strictly: a window ending after "old" but before "new" (in milliseconds,
    # given here in the Go layout) removes "old" only.
    (new,) = (await ok(await client.get(f"{NS}/w/Pod/new")))["data"]
    assert old["updateTime"] < new["updateTime"]
    await ok(await client.delete(f"{NS}/w/Pod", params={"updateTimeEnd": new["updateTime"]}))
    assert await names(client, f"{NS}/w/Pod") == ["new"]
    # No window: the whole list (of that namespace only).
    await ok(await client.delete(f"{NS}/w/Pod"))
    assert await names(client, f"{ALL}/Pod") == ["other-ns"]
    await ok(await client.delete(f"{ALL}/Pod", params={"labelSelector": "missing"}))
    assert await names(client, f"{ALL}/Pod") == ["other-ns"]


async def test_put_merges_extra_fields_into_the_document(client: Any) -> None:
    await put(client, f"{NS}/d/Deployment/d1", {"spec": {}}, extra=b64({"bizId": "42", "team": {"a": 1}}))
    (doc,) = (await ok(await client.get(f"{NS}/d/Deployment/d1")))["data"]
    assert (doc["bizId"], doc["team"]) == ("42", {"a": 1})


async def test_multicluster_list(client: Any) -> None:
    for cluster in ("BCS-K8S-1", "BCS-K8S-2", "BCS-K8S-3"):
        base = f"{PREFIX}/k8s/dynamic/namespace_resources/clusters/{cluster}/namespaces"
        await put(client, f"{base}/a/Pod/{cluster}-a", pod("x", app="web"))
        await put(client, f"{base}/b/Pod/{cluster}-b", pod("y", app="db"))
    path = f"{PREFIX}/k8s/dynamic/multicluster_resources/Pod"
    body = await ok(
        await client.post(path, json={"clusterIDs": ["BCS-K8S-1", "BCS-K8S-3"], "namespaces": ["a"]})
    )
    assert [d["resourceName"] for d in body["data"]] == ["BCS-K8S-1-a", "BCS-K8S-3-a"]
    assert body["total"] == 2
    body = await ok(await client.post(path, json={"labelSelector": "app=db", "limit": 2, "offset": 0}))
    assert [d["resourceName"] for d in body["data"]] == ["BCS-K8S-1-b", "BCS-K8S-2-b"]
    assert (body["total"], body["pageSize"]) == (3, 2)


async def test_purge_cluster_data(client: Any) -> None:
    await put(client, f"{NS}/a/Pod/p1", pod("p1"))
    await put(client, f"{CL}/Node/n1", {})
    other = f"{PREFIX}/k8s/dynamic/namespace_resources/clusters/BCS-K8S-2/namespaces/a/Pod/p1"
    await put(client, other, pod("p1"))
    body = await ok(await client.delete(f"{PREFIX}/clusters/BCS-K8S-1/data"))
    assert body["data"]["removed"] >= 2
    assert await names(client, f"{ALL}/Pod") == []
    assert await names(client, f"{CL}/Node") == []
    assert len((await ok(await client.get(other)))["data"]) == 1


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "code", "naming"),
    [
        ("put", f"{NS}/a/Pod/p", {"data": b"{not json"}, 1405080, "not JSON"),
        ("put", f"{NS}/a/Pod/p", {"json": {"nodata": 1}}, 1405080, "data"),
        ("put", f"{NS}/a/Pod/p", {"json": {"data": [1]}}, 1405080, "data"),
        ("put", f"{NS}/a/Pod/p", {"json": {"data": {}}, "params": {"extra": "%%%"}}, 1405086, "extra"),
        (
            "put",
            f"{NS}/a/Pod/p",
            {"json": {"data": {}}, "params": {"extra": b64({"clusterId": "x"})}},
            1405080,
            "extra",
        ),
        ("get", f"{NS}/a/Pod", {"params": {"labelSelector": "a in (b"}}, 1405080, "labelSelector"),
        ("get", f"{NS}/a/Pod", {"params": {"extra": b64([1, 2])}}, 1405086, "extra"),
        ("get", f"{NS}/a/Pod", {"params": {"limit": "ten"}}, 1405080, "limit"),
        ("get", f"{NS}/a/Pod", {"params": {"offset": "-1"}}, 1405080, "offset"),
        ("get", f"{NS}/a/Pod", {"params": {"updateTimeBefore": "yesterday"}}, 1405080, "updateTimeBefore"),
        ("get", f"{NS}/a/Pod", {"params": {"field": "data..x"}}, 1405080, "field"),
        ("delete", f"{NS}/a/Pod", {"json": {"updateTimeBegin": "soon"}}, 1405080, "updateTimeBegin"),
        ("delete", f"{NS}/a/Pod", {"data": b"[1"}, 1405080, "not JSON"),
        (
            "post",
            f"{PREFIX}/k8s/dynamic/multicluster_resources/Pod",
            {"json": {"clusterIDs": [1]}},
            1405080,
            "clusterIDs",
        ),
    ],
)
async def test_bad_requests_name_the_parameter_and_write_nothing(
    client: Any, method: str, path: str, kwargs: dict[str, Any], code: int, naming: str
) -> None:
    await put(client, f"{NS}/a/Pod/keep", pod("keep"))
    before = (await ok(await client.get(f"{NS}/a/Pod")))["data"]

    resp = await getattr(client, method)(path, **kwargs)
    body = await resp.json()
    assert resp.status == 400, body
    assert (body["result"], body["code"]) == (False, code)
    assert naming in body["message"]
    assert (await ok(await client.get(f"{NS}/a/Pod")))["data"] == before


async def test_internal_collections_are_not_resource_types(client: Any) -> None:
    resp = await client.get(f"{NS}/a/_bcs_outbox")
    assert resp.status == 400
    assert "resourceType" in (await resp.json())["message"]
