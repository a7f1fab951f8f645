"""``/bcsapi/v4/clustermanager/v1``: clusters, id allocation, credentials, kubeconfig, health."""

from __future__ import annotations

import base64
import pathlib

import pytest
import yaml
from aiohttp import test_utils

from bcs import app as app_mod
from bcs import keys
from bcs.testing import ADMIN_TOKEN, embedded_settings
from tests.gateway.accounts import CM, UM, ca_pem, call, grant, make_cluster, make_user


@pytest.fixture
async def client(aiohttp_client, settings) -> test_utils.TestClient:
    return await aiohttp_client(app_mod.create_app(settings))


def _credential(cluster: str, **fields: str) -> dict[str, str]:
    return {
        "serverKey": cluster,
        "clusterID": cluster,
        "clientModule": "kubeagent",
        "serverAddress": "https://127.0.0.1:6443,https://127.0.0.2:6443",
        "caCertData": ca_pem(),
        "userToken": "sa-secret",
        **fields,
    }


async def _ids(client: test_utils.TestClient, **params: str) -> list[str]:
    return [c["clusterID"] for c in (await call(client, "GET", f"{CM}/cluster", params=params))["data"]]


async def test_ids_are_allocated_per_engine_and_environment_and_never_reused(
    client: test_utils.TestClient,
) -> None:
    first = await make_cluster(client)
    assert first == "BCS-K8S-40000"
    assert await make_cluster(client, environment="stag") == "BCS-K8S-15001"
    assert await make_cluster(client, engineType="mesos", environment="debug") == "BCS-MESOS-20000"
    second = await make_cluster(client)
    assert second == "BCS-K8S-40001"
    await call(client, "DELETE", f"{CM}/cluster/{second}")
    await call(client, "GET", f"{CM}/cluster/{second}", status=404)
    assert await make_cluster(client) == "BCS-K8S-40002"  # 40001 is gone but never handed out again
    chosen = await make_cluster(client, clusterID="BCS-K8S-40100")
    assert chosen == "BCS-K8S-40100"
    assert await make_cluster(client) == "BCS-K8S-40101"
    await call(client, "POST", f"{CM}/cluster", json={"clusterID": "BCS-K8S-40100"}, status=409)


async def test_bad_cluster_bodies_are_400_and_use_up_no_id(client: test_utils.TestClient) -> None:
    await make_cluster(client)
    for body in (
        {"clusterName": "x", "nonsense": 1},
        {"engineType": "swarm"},
        {"environment": "qa"},
        {"clusterName": 5},
        {"labels": {"a": 1}},
        {"clusterID": "BCS-K8S-40001", "engineType": "mesos"},
        {"clusterID": "k8s-1"},
        {"extra": "not a map"},
        [],
    ):
        body_resp = await call(client, "POST", f"{CM}/cluster", json=body, status=400)
        assert (body_resp["result"], body_resp["code"]) == (False, 1405080)
    resp = await client.post(
        f"{CM}/cluster", data=b"{not json", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert resp.status == 400
    assert await _ids(client) == ["BCS-K8S-40000"]
    assert await make_cluster(client) == "BCS-K8S-40001"  # no id was spent on the bad bodies


async def test_get_update_delete_keep_the_upstream_shape(client: test_utils.TestClient) -> None:
    cluster = await make_cluster(
        client, clusterName="prod-a", projectID="p1", businessID="100", isExclusive=True, labels={"team": "x"}
    )
    got = (await call(client, "GET", f"{CM}/cluster/{cluster}"))["data"]
    assert (got["clusterName"], got["projectID"], got["businessID"], got["isExclusive"]) == (
        "prod-a",
        "p1",
        "100",
        True,
    )
    assert (got["creator"], got["status"], got["labels"], got["extra"]) == (
        "admin",
        "RUNNING",
        {"team": "x"},
        {},
    )

    updated = await call(
        client,
        "PUT",
        f"{CM}/cluster/{cluster}",
        json={"clusterID": cluster, "clusterName": "prod-b", "region": "gz"},
    )
    data = updated["data"]
    assert (data["clusterName"], data["region"], data["projectID"], data["updater"]) == (
        "prod-b",
        "gz",
        "p1",
        "admin",
    )
    assert data["createTime"] == got["createTime"]
    for body in ({"clusterID": "BCS-K8S-40009"}, {"createTime": "x"}, {"bogus": 1}, {"engineType": "mesos"}):
        await call(client, "PUT", f"{CM}/cluster/{cluster}", json=body, status=400)
    assert (await call(client, "GET", f"{CM}/cluster/{cluster}"))["data"]["clusterName"] == "prod-b"
    await call(client, "PUT", f"{CM}/cluster/BCS-K8S-49999", json={"clusterName": "x"}, status=404)

    deleted = await call(client, "DELETE", f"{CM}/cluster/{cluster}")
    assert deleted["data"]["clusterID"] == cluster
    await call(client, "DELETE", f"{CM}/cluster/{cluster}", status=404)


async def test_list_filters_and_paging(client: test_utils.TestClient) -> None:
    a = await make_cluster(client, projectID="p1", isExclusive=True)
    b = await make_cluster(client, projectID="p2")
    c = await make_cluster(client, environment="debug", projectID="p1")
    d = await make_cluster(client, engineType="mesos", projectID="p1")
    await call(client, "PUT", f"{CM}/cluster/{b}", json={"status": "DELETED"})
    assert (c, a, d) == ("BCS-K8S-25001", "BCS-K8S-40000", "BCS-MESOS-30000")  # listed sorted by id
    assert await _ids(client) == [c, a, d]
    assert await _ids(client, all="true") == [c, a, b, d]
    assert await _ids(client, projectID="p1") == [c, a, d]
    assert await _ids(client, projectID="p1", engineType="k8s") == [c, a]
    assert await _ids(client, environment="debug") == [c]
    assert await _ids(client, isExclusive="true") == [a]
    assert await _ids(client, clusterID=d) == [d]
    page = await call(client, "GET", f"{CM}/cluster", params={"offset": "1", "limit": "1"})
    assert ([x["clusterID"] for x in page["data"]], page["total"]) == ([a], 3)
    for params in ({"nonsense": "1"}, {"limit": "-1"}, {"offset": "x"}, {"all": "maybe"}):
        await call(client, "GET", f"{CM}/cluster", params=params, status=400)


async def test_non_admins_see_only_their_clusters(client: test_utils.TestClient) -> None:
    mine, _ = await make_cluster(client), await make_cluster(client)
    viewer = await make_user(client, "vic")
    manager = await make_user(client, "max")
    await grant(client, "vic", mine, "viewer")
    await grant(client, "max", mine, "manager")
    listed = await call(client, "GET", f"{CM}/cluster", token=viewer)
    assert [x["clusterID"] for x in listed["data"]] == [mine]
    # Cluster records stay an admin's to change, whatever the role.
    for token in (viewer, manager):
        await call(client, "DELETE", f"{CM}/cluster/{mine}", token=token, status=403)
    await call(client, "GET", f"{CM}/cluster/{mine}")


async def test_credentials_put_get_list_delete(client: test_utils.TestClient) -> None:
    cluster = await make_cluster(client)
    viewer = await make_user(client, "vic")
    await grant(client, "vic", cluster, "viewer")
    put = await call(client, "PUT", f"{CM}/clustercredential/{cluster}", json=_credential(cluster))
    assert put["data"]["userToken"] == "***"  # not echoed
    full = (await call(client, "GET", f"{CM}/clustercredential/{cluster}"))["data"]
    assert (full["userToken"], full["connectMode"], full["clientModule"]) == (
        "sa-secret",
        "direct",
        "kubeagent",
    )
    masked = (await call(client, "GET", f"{CM}/clustercredential/{cluster}", token=viewer))["data"]
    assert masked["userToken"] == "***"
    assert masked["serverAddress"] == full["serverAddress"]

    # An admin reporting an unknown cluster registers it (the agent-first flow); a tunnel credential.
    await call(
        client,
        "PUT",
        f"{CM}/clustercredential/BCS-K8S-15005",
        json=_credential("BCS-K8S-15005", connectMode="tunnel"),
    )
    assert (await call(client, "GET", f"{CM}/cluster/BCS-K8S-15005"))["data"]["environment"] == "stag"
    direct = await call(client, "GET", f"{CM}/clustercredential", params={"connectMode": "direct"})
    assert [c["serverKey"] for c in direct["data"]] == [cluster]
    every = await call(client, "GET", f"{CM}/clustercredential")
    assert [c["serverKey"] for c in every["data"]] == ["BCS-K8S-15005", cluster]
    seen = await call(client, "GET", f"{CM}/clustercredential", token=viewer)
    assert [(c["serverKey"], c["userToken"]) for c in seen["data"]] == [(cluster, "***")]

    await call(
        client,
        "PUT",
        f"{CM}/clustercredential/{cluster}",
        token=viewer,
        json=_credential(cluster),
        status=403,
    )
    await call(client, "DELETE", f"{CM}/clustercredential/{cluster}", token=viewer, status=403)
    await call(client, "DELETE", f"{CM}/clustercredential/{cluster}")
    await call(client, "GET", f"{CM}/clustercredential/{cluster}", status=404)
    await call(client, "DELETE", f"{CM}/clustercredential/{cluster}", status=404)


async def test_bad_credentials_are_400_and_change_nothing(client: test_utils.TestClient) -> None:
    cluster = await make_cluster(client)
    await call(client, "PUT", f"{CM}/clustercredential/{cluster}", json=_credential(cluster))
    for fields in (
        {"serverAddress": "127.0.0.1:6443"},
        {"serverAddress": ""},
        {"serverAddress": "https://x:notaport"},
        {"connectMode": "carrier-pigeon"},
        {"serverKey": "other"},
        {"clusterID": "nope"},
        {"clientKey": "-----BEGIN KEY"},
        {"caCertData": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"},
        {"userToken": 5},
        {"password": "x"},
    ):
        await call(
            client,
            "PUT",
            f"{CM}/clustercredential/{cluster}",
            json=_credential(cluster, **fields),
            status=400,
        )
    await call(client, "GET", f"{CM}/clustercredential", params={"connectMode": "x"}, status=400)
    assert (await call(client, "GET", f"{CM}/clustercredential/{cluster}"))["data"][
        "userToken"
    ] == "sa-secret"
    assert await _ids(client) == [cluster]


async def test_kubeconfig_points_at_the_gateway_with_the_callers_token(client: test_utils.TestClient) -> None:
    cluster = await make_cluster(client)
    viewer = await make_user(client, "vic")
    await grant(client, "vic", cluster, "viewer")
    body = (await call(client, "GET", f"{CM}/clusters/{cluster}/kubeconfig", token=viewer))["data"]
    server = f"http://{client.host}:{client.port}/clusters/{cluster}"
    assert body["server"] == server
    config = yaml.safe_load(body["kubeconfig"])
    assert config["current-context"] == cluster
    assert config["clusters"][0]["cluster"]["server"] == server
    assert config["users"][0]["user"]["token"] == viewer
    assert config["users"][0]["name"] == f"vic@{cluster}"
    ca = client.app[keys.GATEWAY_CA_PEM]
    if ca:
        assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode() == ca

    resp = await client.get(
        f"{CM}/clusters/{cluster}/kubeconfig?format=yaml", headers={"Authorization": f"Bearer {viewer}"}
    )
    assert resp.content_type == "application/yaml"
    assert yaml.safe_load(await resp.text())["users"][0]["user"]["token"] == viewer

    other = await make_cluster(client)
    await call(client, "GET", f"{CM}/clusters/{other}/kubeconfig", token=viewer, status=403)
    await call(client, "GET", f"{CM}/clusters/BCS-K8S-49999/kubeconfig", status=404)


async def test_kubeconfig_without_a_gateway_ca(aiohttp_client, tmp_path: pathlib.Path) -> None:
    client = await aiohttp_client(app_mod.create_app(embedded_settings(tmp_path, server={"tls": "off"})))
    cluster = await make_cluster(client)
    config = yaml.safe_load(
        (await call(client, "GET", f"{CM}/clusters/{cluster}/kubeconfig"))["data"]["kubeconfig"]
    )
    assert "certificate-authority-data" not in config["clusters"][0]["cluster"]
    assert config["users"][0]["user"]["token"] == ADMIN_TOKEN


async def test_health(client: test_utils.TestClient) -> None:
    assert (await call(client, "GET", f"{CM}/health"))["data"] == {"status": "ok"}
    await call(client, "GET", f"{CM}/health", token=None, status=401)
    info = await call(client, "GET", f"{UM}/v1/users/info")
    assert info["data"]["username"] == "admin"
