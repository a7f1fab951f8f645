"""apiserver semantics over HTTP: auth, Status shapes, concurrency, selectors, patches, deletion."""

from __future__ import annotations

import aiohttp
import orjson

from bcs.sim.kube import cluster, patch
from tests.sim.kube.conftest import Http, until

CM = "/api/v1/namespaces/default/configmaps"
POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def test_auth_and_status_shapes(http: Http) -> None:
    code, body = await http("GET", "/api/v1/namespaces", token="wrong")
    assert code == 401
    assert body["reason"] == "Unauthorized"
    assert body["kind"] == "Status"
    code, body = await http("GET", CM + "/nosuch")
    assert code == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "nosuch" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "nosuch", "group": "", "kind": "configmaps"},
    }
    code, body = await http("GET", "/apis/nosuch.io/v1/things")
    assert code == 404
    assert body["reason"] == "NotFound"
    code, body = await http(
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        {"metadata": {"name": "Bad_Name"}, "spec": {"replicas": -1}},
    )
    assert code == 422
    assert body["reason"] == "Invalid"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"metadata.name", "spec.replicas", "spec.selector"} <= fields
    code, body = await http("POST", "/api/v1/namespaces/nosuch/configmaps", {"metadata": {"name": "x"}})
    assert code == 404
    assert body["message"] == 'namespaces "nosuch" not found'


async def test_create_update_concurrency_and_generation(http: Http) -> None:
    code, a = await http("POST", CM, {"metadata": {"generateName": "gen-"}, "data": {"k": "v"}})
    assert code == 201
    assert a["metadata"]["name"].startswith("gen-")
    assert len(a["metadata"]["name"]) == 9
    assert "generation" not in a["metadata"]
    assert a["metadata"]["uid"]
    code, body = await http("POST", CM, {"metadata": {"name": a["metadata"]["name"]}})
    assert code == 409
    assert body["reason"] == "AlreadyExists"
    a["data"]["k"] = "v2"
    code, b = await http("PUT", f"{CM}/{a['metadata']['name']}", a)
    assert code == 200
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    code, body = await http(
        "PUT", f"{CM}/{a['metadata']['name']}", a
    )  # a still carries the old resourceVersion
    assert code == 409
    assert body["reason"] == "Conflict"
    # A no-op update keeps the resourceVersion.
    code, c = await http("PUT", f"{CM}/{b['metadata']['name']}", b)
    assert c["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]

    dep = {
        "metadata": {"name": "g"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    path = "/apis/apps/v1/namespaces/default/deployments"
    code, d = await http("POST", path, dep)
    assert d["metadata"]["generation"] == 1
    assert d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%"
    code, d = await http(
        "PATCH", f"{path}/g", {"metadata": {"labels": {"x": "y"}}}, ctype="application/merge-patch+json"
    )
    assert d["metadata"]["generation"] == 1
    code, d = await http(
        "PATCH", f"{path}/g", {"spec": {"replicas": 1}}, ctype="application/merge-patch+json"
    )
    assert d["metadata"]["generation"] == 2
    code, d = await http(
        "PATCH",
        f"{path}/g/status",
        {"status": {"replicas": 7}, "spec": {"replicas": 9}},
        ctype="application/merge-patch+json",
    )
    assert d["status"]["replicas"] == 7
    assert d["spec"]["replicas"] == 1
    assert d["metadata"]["generation"] == 2
    code, body = await http(
        "PATCH",
        f"{path}/g",
        {"spec": {"selector": {"matchLabels": {"a": "c"}}}},
        ctype="application/merge-patch+json",
    )
    assert code == 422
    assert "field is immutable" in body["message"]


async def test_selectors_and_paging(http: Http, kube_sim: cluster.KubeSim) -> None:
    for i, (tier, env) in enumerate([("a", "prod"), ("b", "prod"), ("c", "dev"), ("a", "dev")]):
        await http("POST", CM, {"metadata": {"name": f"s{i}", "labels": {"tier": tier, "env": env}}})
    await http("POST", CM, {"metadata": {"name": "s4", "labels": {"tier": "z"}}})

    async def names(query: str) -> list[str]:
        code, body = await http("GET", f"{CM}?{query}")
        assert code == 200, body
        return [i["metadata"]["name"] for i in body["items"]]

    assert await names("labelSelector=env%3Dprod") == ["s0", "s1"]
    assert await names("labelSelector=tier!%3Da,env") == ["s1", "s2"]
    assert await names("labelSelector=tier+in+(a,c)") == ["s0", "s2", "s3"]
    assert await names("labelSelector=tier+notin+(a),tier") == ["s1", "s2", "s4"]
    assert await names("labelSelector=!env,tier") == ["s4"]
    assert await names("fieldSelector=metadata.name%3Ds3") == ["s3"]
    assert await names("fieldSelector=metadata.namespace!%3Ddefault") == []
    code, body = await http("GET", f"{CM}?fieldSelector=data.x%3D1")
    assert code == 400
    assert "field label not supported" in body["message"]
    code, page = await http("GET", f"{CM}?labelSelector=tier&limit=2")
    assert [i["metadata"]["name"] for i in page["items"]] == ["s0", "s1"]
    assert page["metadata"]["remainingItemCount"] == 3
    code, page2 = await http(
        "GET", f"{CM}?labelSelector=tier&limit=2&continue={page['metadata']['continue']}"
    )
    assert [i["metadata"]["name"] for i in page2["items"]] == ["s2", "s3"]
    # Table for kubectl get.
    code, table = await http(
        "GET", "/api/v1/nodes", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    )
    assert table["kind"] == "Table"
    assert table["columnDefinitions"][1]["name"] == "Status"
    assert [r["cells"][:2] for r in table["rows"]] == [
        ["node-0", "Ready"],
        ["node-1", "Ready"],
        ["node-2", "Ready"],
    ]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_patches_and_strategic_merge_keys(http: Http) -> None:
    tmpl = {
        "metadata": {"labels": {"app": "sm"}},
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "i:1",
                    "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80}],
                },
                {"name": "b", "image": "j:1"},
            ]
        },
    }
    dep = {
        "metadata": {"name": "sm", "finalizers": ["a/x"]},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "sm"}}, "template": tmpl},
    }
    path = "/apis/apps/v1/namespaces/default/deployments/sm"
    code, _ = await http("POST", "/apis/apps/v1/namespaces/default/deployments", dep)
    assert code == 201
    smp = {
        "metadata": {"finalizers": ["b/y"]},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "b", "image": "j:2"},
                        {
                            "name": "a",
                            "env": [{"name": "B", "value": "2"}, {"name": "A", "$patch": "delete"}],
                        },
                    ]
                }
            }
        },
    }
    code, out = await http("PATCH", path, smp, ctype="application/strategic-merge-patch+json")
    assert code == 200, out
    containers = out["spec"]["template"]["spec"]["containers"]
    cs = {c["name"]: c for c in containers}
    assert [c["name"] for c in containers] == ["a", "b"]
    assert cs["b"]["image"] == "j:2"
    assert cs["a"]["image"] == "i:1"
    assert cs["a"]["env"] == [{"name": "B", "value": "2"}]
    assert cs["a"]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert out["metadata"]["finalizers"] == ["a/x", "b/y"]
    ops = [
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "a"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "i:3"},
    ]
    code, out = await http("PATCH", path, ops, ctype="application/json-patch+json")
    assert code == 200
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "i:3"
    code, out = await http(
        "PATCH", path, [{"op": "test", "path": "/x", "value": 1}], ctype="application/json-patch+json"
    )
    assert code == 422
    code, _ = await http("POST", "/api/v1/namespaces/default/pods", POD)
    code, out = await http(
        "PATCH",
        "/api/v1/namespaces/default/pods/p",
        {"spec": {"hostname": "z"}},
        ctype="application/merge-patch+json",
    )
    assert code == 422
    assert "pod updates may not change fields" in out["message"]
    code, out = await http(
        "PATCH",
        "/api/v1/namespaces/default/pods/p",
        {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}},
        ctype="application/strategic-merge-patch+json",
    )
    assert code == 200
    assert out["spec"]["containers"][0]["image"] == "busybox:2"
    assert patch.strategic_merge(
        {"spec": {"ports": [{"port": 1, "name": "a"}]}},
        {"spec": {"ports": [{"port": 2}], "$setElementOrder/ports": [{"port": 2}, {"port": 1}]}},
    ) == {"spec": {"ports": [{"port": 2}, {"port": 1, "name": "a"}]}}
    assert patch.merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None}, "d": [1]}) == {
        "a": {"c": 2},
        "d": [1],
    }


async def test_finalizers_and_cascading_deletion(http: Http, kube_sim: cluster.KubeSim) -> None:
    code, cm = await http("POST", CM, {"metadata": {"name": "fin", "finalizers": ["example.com/hold"]}})
    code, gone = await http("DELETE", f"{CM}/fin")
    assert code == 200
    assert gone["metadata"]["deletionTimestamp"]
    code, _still = await http("GET", f"{CM}/fin")
    assert code == 200
    code, _ = await http(
        "PATCH", f"{CM}/fin", {"metadata": {"finalizers": None}}, ctype="application/merge-patch+json"
    )
    code, _ = await http("GET", f"{CM}/fin")
    assert code == 404

    owner_uid = cm["metadata"]["uid"]
    code, owner = await http("POST", CM, {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    for n in ("d1", "d2"):
        await http("POST", CM, {"metadata": {"name": n, "ownerReferences": [ref]}})
    code, body = await http("DELETE", f"{CM}/owner", {"propagationPolicy": "Foreground"})
    assert "foregroundDeletion" in body["metadata"]["finalizers"]

    async def all_gone() -> bool:
        codes = [(await http("GET", f"{CM}/{n}"))[0] for n in ("owner", "d1", "d2")]
        return codes == [404, 404, 404]

    await until(all_gone, what="foreground cascade")
    code, orphan_owner = await http("POST", CM, {"metadata": {"name": "owner2"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner2", "uid": orphan_owner["metadata"]["uid"]}
    await http("POST", CM, {"metadata": {"name": "kept", "ownerReferences": [ref]}})
    await http("DELETE", f"{CM}/owner2", {"propagationPolicy": "Orphan"})

    async def orphaned() -> bool:
        code, kept = await http("GET", f"{CM}/kept")
        return (
            code == 200
            and not kept["metadata"].get("ownerReferences")
            and (await http("GET", f"{CM}/owner2"))[0] == 404
        )

    await until(orphaned, what="orphaning")
    assert owner_uid  # the finalizer object had a uid
    # A dependent of a vanished owner is collected.
    await http(
        "POST", CM, {"metadata": {"name": "dangling", "ownerReferences": [{**ref, "uid": "no-such-uid"}]}}
    )
    await until(
        lambda: (
            kube_sim.cluster.store.get(
                kube_sim.cluster.registry.builtin("", "configmaps"), "default", "dangling"
            )
            is None
        ),
        what="dangling dependent to be collected",
    )


async def test_namespace_lifecycle(http: Http, kube_sim: cluster.KubeSim) -> None:
    code, _ = await http("POST", "/api/v1/namespaces", {"metadata": {"name": "tmp"}})
    assert code == 201
    await until(
        lambda: http("GET", "/api/v1/namespaces/tmp/serviceaccounts/default"), what="default service account"
    )
    await http("POST", "/api/v1/namespaces/tmp/configmaps", {"metadata": {"name": "x"}})
    await http("POST", "/api/v1/namespaces/tmp/pods", POD)
    code, ns = await http("DELETE", "/api/v1/namespaces/tmp")
    assert ns["status"]["phase"] == "Terminating"

    async def gone() -> bool:
        return (await http("GET", "/api/v1/namespaces/tmp"))[0] == 404

    await until(gone, what="namespace deletion")
    code, _body = await http("DELETE", "/api/v1/namespaces/default")
    assert code == 403


async def test_discovery_documents(http: Http) -> None:
    _code, agg = await http(
        "GET",
        "/apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
    )
    apps = next(i for i in agg["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"] for s in deploy["subresources"]} == {"status", "scale"}
    _code, index = await http("GET", "/openapi/v3")
    assert {"api/v1", "apis/apps/v1", "apis/apiextensions.k8s.io/v1"} <= set(index["paths"])
    _code, doc = await http("GET", index["paths"]["apis/apps/v1"]["serverRelativeURL"])
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert "fieldValidation" in {p["name"] for p in op["parameters"]}
    assert "replicas" in doc["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]


async def test_resumed_watch_replays_only_its_own_resource(http: Http, kube_sim: cluster.KubeSim) -> None:
    status, start = await http("POST", CM, {"metadata": {"name": "before"}})
    assert status == 201
    rv = start["metadata"]["resourceVersion"]
    # Changes of other kinds after rv must not leak into a configmaps watch resumed from rv.
    assert (await http("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}}))[0] == 201
    assert (await http("POST", CM, {"metadata": {"name": "after"}}))[0] == 201
    url = f"{kube_sim.url}{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=1"
    headers = {"Authorization": f"Bearer {kube_sim.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=headers, ssl=kube_sim.client_ssl_context()) as resp,
    ):
        lines = [orjson.loads(line) for line in (await resp.read()).splitlines() if line.strip()]
    kinds = {(e["type"], e["object"]["kind"], e["object"]["metadata"]["name"]) for e in lines}
    assert kinds == {("ADDED", "ConfigMap", "after")}


async def test_leases_are_served(http: Http) -> None:
    leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    body = {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}
    status, created = await http("POST", leases, body)
    assert status == 201
    assert created["kind"] == "Lease"
    created["spec"]["holderIdentity"] = "b"
    status, updated = await http("PUT", f"{leases}/leader", created)
    assert (status, updated["spec"]["holderIdentity"]) == (200, "b")
    created["spec"]["holderIdentity"] = "c"  # stale resourceVersion: a second elector lost the race
    status, conflict = await http("PUT", f"{leases}/leader", created)
    assert (status, conflict["reason"]) == (409, "Conflict")
    status, groups = await http("GET", "/apis")
    assert "coordination.k8s.io" in {g["name"] for g in groups["groups"]}
