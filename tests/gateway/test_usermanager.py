"""``/bcsapi/v4/usermanager``: users, tokens, permissions, verify, register tokens, legacy routes."""

from __future__ import annotations

import time

import pytest
from aiohttp import test_utils

from bcs import app as app_mod
from bcs import keys
from bcs.testing import ADMIN_TOKEN
from tests.gateway.accounts import CM, UM, ca_pem, call, grant, make_cluster, make_user


@pytest.fixture
async def client(aiohttp_client, settings) -> test_utils.TestClient:
    return await aiohttp_client(app_mod.create_app(settings))


def _entry(user: str, cluster: str, role: str = "viewer", **extra: str) -> dict:
    return {"user_name": user, "resource_type": "cluster", "resource": cluster, "role": role, **extra}


async def test_create_user_shows_its_token_once(client: test_utils.TestClient) -> None:
    body = await call(client, "POST", f"{UM}/v1/users/plain/alice")
    data = body["data"]
    assert (body["result"], body["code"]) == (True, 0)
    assert (data["name"], data["user_type"], data["created_by"]) == ("alice", 3, "admin")
    assert len(data["user_token"]) == 32
    assert data["expires_at"] is not None  # plain users' tokens last a day

    got = await call(client, "GET", f"{UM}/v1/users/plain/alice")
    assert "user_token" not in got["data"]
    assert data["user_token"] not in str(got)
    assert got["data"]["expires_at"] == data["expires_at"]
    # The user itself may read itself; the kind is part of the path.
    await call(client, "GET", f"{UM}/v1/users/plain/alice", token=data["user_token"])
    await call(client, "GET", f"{UM}/v1/users/saas/alice", status=404)

    info = await call(client, "GET", f"{UM}/v1/users/info", token=data["user_token"])
    assert info["data"]["username"] == "alice"
    assert info["data"]["user_type"] == 3

    saas = (await call(client, "POST", f"{UM}/v1/users/saas/svc"))["data"]
    assert (saas["user_type"], saas["expires_at"]) == (2, None)


async def test_user_mutations_need_an_admin_and_bad_input_changes_nothing(
    client: test_utils.TestClient,
) -> None:
    plain = await make_user(client, "plain")
    await call(client, "POST", f"{UM}/v1/users/plain/bob", token=plain, status=403)
    await call(client, "GET", f"{UM}/v1/users/plain/bob", status=404)
    await call(client, "POST", f"{UM}/v1/users/plain/plain", status=409)
    await call(client, "POST", f"{UM}/v1/users/root/bob", status=404)  # no such route
    for name in ("tokens", "x" * 65, "a.%2Fb"):
        await call(client, "POST", f"{UM}/v1/users/plain/{name}", status=400)
    for body in ({"expiration": "soon"}, {"expiration": 0}, {"other": 1}, [1]):
        await call(client, "POST", f"{UM}/v1/users/plain/carl", json=body, status=400)
    await call(client, "GET", f"{UM}/v1/users/plain/carl", status=404)
    await call(client, "GET", f"{UM}/v1/users/plain/plain", token=plain)
    await call(client, "GET", f"{UM}/v1/users/admin/admin", token=plain, status=403)


async def test_tokens_create_list_extend_and_revoke(client: test_utils.TestClient) -> None:
    first = await make_user(client, "dora", kind="saas")
    created = await call(
        client, "POST", f"{UM}/v1/tokens", token=first, json={"username": "dora", "expiration": 3600}
    )
    second = created["data"]
    assert len(second["token"]) == 32
    assert second["expired_at"] is not None

    listed = await call(client, "GET", f"{UM}/v1/users/dora/tokens", token=first)
    assert sorted(t["token_id"] for t in listed["data"]) == sorted([first[:8], second["token_id"]])
    assert first not in str(listed)
    assert second["token"] not in str(listed)
    assert {t["status"] for t in listed["data"]} == {1}

    extended = await call(client, "PUT", f"{UM}/v1/tokens/{second['token_id']}", json={"expiration": -1})
    assert extended["data"]["expired_at"] is None
    # Upstream addresses the token by value; the whole token works too.
    await call(client, "DELETE", f"{UM}/v1/tokens/{second['token']}", token=first)
    await call(client, "GET", f"{UM}/v1/users/info", token=second["token"], status=401)
    await call(client, "DELETE", f"{UM}/v1/tokens/{second['token_id']}", status=404)


async def test_tokens_of_others_are_out_of_reach(client: test_utils.TestClient) -> None:
    eve, frank = await make_user(client, "eve"), await make_user(client, "frank")
    await call(
        client, "POST", f"{UM}/v1/tokens", token=eve, json={"username": "frank", "expiration": 60}, status=403
    )
    await call(client, "GET", f"{UM}/v1/users/frank/tokens", token=eve, status=403)
    await call(client, "DELETE", f"{UM}/v1/tokens/{frank[:8]}", token=eve, status=403)
    await call(client, "PUT", f"{UM}/v1/tokens/{frank[:8]}", token=eve, json={"expiration": 60}, status=403)
    forged = frank[:8] + ("A" if frank[8] != "A" else "B") + frank[9:]
    await call(client, "DELETE", f"{UM}/v1/tokens/{forged}", status=404)  # id right, secret wrong
    await call(client, "GET", f"{UM}/v1/users/info", token=frank)
    for body in ({"username": "frank"}, {"expiration": 60}, {"username": "frank", "expiration": 10**9}, "x"):
        await call(client, "POST", f"{UM}/v1/tokens", json=body, status=400)
    await call(client, "POST", f"{UM}/v1/tokens", json={"username": "ghost", "expiration": 60}, status=404)
    assert len((await call(client, "GET", f"{UM}/v1/users/frank/tokens"))["data"]) == 1


async def test_refresh_saas_and_plain(client: test_utils.TestClient) -> None:
    old = await make_user(client, "svc", kind="saas")
    new = (await call(client, "PUT", f"{UM}/v1/users/saas/svc/refresh"))["data"]["user_token"]
    await call(client, "GET", f"{UM}/v1/users/info", token=old, status=401)
    await call(client, "GET", f"{UM}/v1/users/info", token=new)

    plain = await make_user(client, "pat")
    kept = (await call(client, "PUT", f"{UM}/v1/users/plain/pat/refresh/30", token=plain))["data"]
    assert "user_token" not in kept  # the live token lives on, now for 30 days
    client.app[keys.USERS].clock = lambda: time.time() + 31 * 86400
    await call(client, "GET", f"{UM}/v1/users/info", token=plain, status=401)
    fresh = (await call(client, "PUT", f"{UM}/v1/users/plain/pat/refresh/1"))["data"]["user_token"]
    await call(client, "GET", f"{UM}/v1/users/info", token=fresh)
    for bad in ("0", "-1", "x", "1001"):
        await call(client, "PUT", f"{UM}/v1/users/plain/pat/refresh/{bad}", status=400)


async def test_permissions_grant_list_revoke_verify(client: test_utils.TestClient) -> None:
    cluster = await make_cluster(client)
    viewer = await make_user(client, "vic")
    await make_user(client, "max")
    granted = await call(
        client,
        "POST",
        f"{UM}/v1/permissions",
        json={
            "apiVersion": "v1",
            "kind": "permissions",
            "name": "grant",
            "spec": {"permissions": [_entry("vic", cluster), _entry("max", cluster, "manager")]},
        },
    )
    assert [(p["user_name"], p["role"]) for p in granted["data"]] == [("vic", "viewer"), ("max", "manager")]

    listed = await call(client, "GET", f"{UM}/v1/permissions", params={"resource": cluster})
    assert sorted(p["user_name"] for p in listed["data"]) == ["max", "vic"]
    own = await call(client, "GET", f"{UM}/v1/permissions", token=viewer)
    assert [p["user_name"] for p in own["data"]] == ["vic"]
    await call(client, "GET", f"{UM}/v1/permissions", token=viewer, params={"user_name": "max"}, status=403)

    async def verify(token: str, action: str, version: str = "v1") -> bool:
        key = "resource" if version == "v1" else "cluster_id"
        body = {"user_token": token, "resource_type": "cluster", key: cluster, "action": action}
        return (await call(client, "GET", f"{UM}/{version}/permissions/verify", json=body))["data"]["allowed"]

    assert await verify(viewer, "GET")
    assert await verify(viewer, "watch", "v2")
    assert not await verify(viewer, "POST")
    assert not await verify("bogus", "GET")
    assert await verify(ADMIN_TOKEN, "DELETE", "v2")
    body = {"user_token": viewer, "resource_type": "cluster", "resource": cluster, "action": "GET"}
    await call(client, "GET", f"{UM}/v1/permissions/verify", token=viewer, json=body, status=403)

    revoked = await call(
        client, "DELETE", f"{UM}/v1/permissions", json={"spec": {"permissions": [_entry("vic", cluster)]}}
    )
    assert revoked["data"] == {"revoked": 1}
    assert not await verify(viewer, "GET")


async def test_bad_permissions_change_nothing(client: test_utils.TestClient) -> None:
    cluster = await make_cluster(client)
    await make_user(client, "vic")
    cases = [
        ({"spec": {"permissions": [_entry("vic", cluster), _entry("vic", cluster, "owner")]}}, 400),
        ({"spec": {"permissions": [_entry("vic", cluster), _entry("ghost", cluster)]}}, 404),
        ({"spec": {"permissions": [_entry("vic", cluster), _entry("vic", "BCS-K8S-49999")]}}, 404),
        ({"spec": {"permissions": [_entry("vic", cluster, extra="x")]}}, 400),
        ({"spec": {"permissions": []}}, 400),
        ({"permissions": [_entry("vic", cluster)]}, 400),
    ]
    for body, status in cases:
        await call(client, "POST", f"{UM}/v1/permissions", json=body, status=status)
    assert (await call(client, "GET", f"{UM}/v1/permissions"))["data"] == []
    await grant(client, "vic", cluster, "viewer")
    plain = await make_user(client, "plain")
    await call(client, "POST", f"{UM}/v1/permissions", token=plain, json=cases[0][0], status=403)
    both = {"spec": {"permissions": [_entry("vic", cluster), _entry("plain", cluster)]}}
    await call(client, "DELETE", f"{UM}/v1/permissions", json=both, status=404)  # plain holds none
    assert len((await call(client, "GET", f"{UM}/v1/permissions"))["data"]) == 1


async def test_register_token_reports_its_cluster_only(client: test_utils.TestClient) -> None:
    cluster, other = await make_cluster(client), await make_cluster(client)
    issued = (await call(client, "POST", f"{UM}/v1/clusters/{cluster}/register_tokens"))["data"]
    token = issued["token"]
    shown = (await call(client, "GET", f"{UM}/v1/clusters/{cluster}/register_tokens"))["data"]
    assert shown["token_id"] == issued["token_id"]
    assert token not in str(shown)
    await call(client, "GET", f"{UM}/v1/clusters/{other}/register_tokens", status=404)
    await call(client, "POST", f"{UM}/v1/clusters/BCS-K8S-49999/register_tokens", status=404)

    legacy = {"server_addresses": "https://127.0.0.1:6443", "cacert_data": ca_pem(), "user_token": "sa-token"}
    # The legacy route takes the register token in the body, without a bearer token.
    await call(
        client,
        "PUT",
        f"{UM}/v1/clusters/{cluster}/credentials",
        token=None,
        json={**legacy, "register_token": token},
    )
    await call(
        client,
        "PUT",
        f"{UM}/v1/clusters/{other}/credentials",
        token=None,
        json={**legacy, "register_token": token},
        status=403,
    )
    await call(client, "PUT", f"{UM}/v1/clusters/{cluster}/credentials", token=None, json=legacy, status=401)
    for wrong in ({"server_addresses": "127.0.0.1"}, {"cacert_data": "PEM"}):
        bad = {**legacy, "register_token": token, **wrong}
        await call(client, "PUT", f"{UM}/v1/clusters/{cluster}/credentials", token=None, json=bad, status=400)
    stored = (await call(client, "GET", f"{UM}/v1/clusters/{cluster}/credentials"))["data"]
    assert (stored["server_addresses"], stored["user_token"]) == ("https://127.0.0.1:6443", "sa-token")
    assert [
        c["cluster_id"] for c in (await call(client, "GET", f"{UM}/v1/clusters/credentials"))["data"]
    ] == [cluster]

    # The same token through the cluster manager, as the kube agent sends it.
    body = {
        "serverKey": cluster,
        "clusterID": cluster,
        "clientModule": "kubeagent",
        "serverAddress": "https://127.0.0.2:6443",
    }
    await call(client, "PUT", f"{CM}/clustercredential/{cluster}", token=token, json=body)
    body = {**body, "serverKey": other, "clusterID": other}
    await call(client, "PUT", f"{CM}/clustercredential/{other}", token=token, json=body, status=403)
    # It reads nothing.
    await call(client, "GET", f"{CM}/cluster/{cluster}", token=token, status=403)
    await call(client, "GET", f"{CM}/clustercredential/{cluster}", token=token, status=403)
    await call(client, "GET", f"{UM}/v1/clusters/{cluster}/credentials", token=token, status=403)

    # Deleting the cluster retires its register token.
    await call(client, "DELETE", f"{CM}/cluster/{cluster}")
    await call(client, "GET", f"{UM}/v1/users/info", token=token, status=401)


async def test_legacy_cluster_create(client: test_utils.TestClient) -> None:
    body = await call(
        client, "POST", f"{UM}/v1/clusters", json={"cluster_id": "BCS-K8S-15001", "cluster_type": "k8s"}
    )
    assert body["data"]["id"] == "BCS-K8S-15001"
    cluster = (await call(client, "GET", f"{CM}/cluster/BCS-K8S-15001"))["data"]
    assert (cluster["engineType"], cluster["environment"], cluster["creator"]) == ("k8s", "stag", "admin")
    await call(
        client,
        "POST",
        f"{UM}/v1/clusters",
        json={"cluster_id": "BCS-K8S-15001", "cluster_type": "k8s"},
        status=409,
    )
    for bad in (
        {"cluster_id": "BCS-K8S-15002", "cluster_type": "mesos"},
        {"cluster_id": "k8s-1", "cluster_type": "k8s"},
        {},
    ):
        await call(client, "POST", f"{UM}/v1/clusters", json=bad, status=400)
    assert [c["clusterID"] for c in (await call(client, "GET", f"{CM}/cluster"))["data"]] == ["BCS-K8S-15001"]
