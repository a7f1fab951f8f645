"""The auth middleware, ``principal``/``authorize``, and the error map's Kubernetes ``Status`` bodies."""

from __future__ import annotations

import base64
import logging
import pathlib
import time

import pytest
from aiohttp import test_utils, web

from bcs import app as app_mod
from bcs import envelope, errors, keys
from bcs.gateway import accesslog, auth, middlewares
from bcs.testing import ADMIN_TOKEN, embedded_settings
from tests.gateway.accounts import CM, UM, bearer, call, grant, make_cluster, make_user


async def _probe(request: web.Request) -> web.Response:
    """A stand-in for a cluster-scoped handler: authorize the query's verb on the query's cluster."""
    await auth.authorize(request, cluster_id=request.query["cluster"], verb=request.query["verb"])
    return envelope.ok(auth.principal(request).to_wire())


@pytest.fixture
async def client(aiohttp_client, settings) -> test_utils.TestClient:
    app = app_mod.create_app(settings)
    app.router.add_get("/bcsapi/v4/test/probe", _probe)
    return await aiohttp_client(app)


async def test_no_token_or_a_bad_one_is_401_in_the_envelope(client: test_utils.TestClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic YTpi"},
        bearer("x" * 32),
    ):
        resp = await client.get("/bcsapi/v4/version", headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        body = await resp.json()
        assert (body["result"], body["code"], body["data"]) == (False, 1405401, None)
    resp = await client.get("/bcsapi/v4/version", headers=bearer(ADMIN_TOKEN))
    assert resp.status == 200


async def test_public_paths_and_unknown_routes_need_no_token(client: test_utils.TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/bcsapi/v4/openapi.json"):
        assert (await client.get(path)).status == 200, path
    assert (await client.get("/bcsapi/v4/nowhere")).status == 404


async def test_public_paths_are_configurable(aiohttp_client, tmp_path: pathlib.Path) -> None:
    settings = embedded_settings(tmp_path, auth={"public_paths": ["/healthz", "/bcsapi/v4/vers*"]})
    client = await aiohttp_client(app_mod.create_app(settings))
    assert (await client.get("/bcsapi/v4/version")).status == 200
    assert (await client.get("/metrics")).status == 401  # no longer listed


async def test_websocket_bearer_subprotocol_authenticates(client: test_utils.TestClient) -> None:
    encoded = base64.urlsafe_b64encode(ADMIN_TOKEN.encode()).decode().rstrip("=")
    headers = {
        "Sec-WebSocket-Protocol": f"v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.{encoded}"
    }
    assert (await client.get("/bcsapi/v4/version", headers=headers)).status == 200
    headers = {"Sec-WebSocket-Protocol": "base64url.bearer.authorization.k8s.io.!!!"}
    assert (await client.get("/bcsapi/v4/version", headers=headers)).status == 401


async def test_authorize_viewer_manager_admin_and_register_token(client: test_utils.TestClient) -> None:
    cluster = await make_cluster(client)
    viewer, manager = await make_user(client, "viewer"), await make_user(client, "manager")
    await grant(client, "viewer", cluster, "viewer")
    await grant(client, "manager", cluster, "manager")
    register = (await call(client, "POST", f"{UM}/v1/clusters/{cluster}/register_tokens"))["data"]["token"]

    async def probe(token: str, verb: str, *, on: str = cluster) -> int:
        resp = await client.get(
            "/bcsapi/v4/test/probe", params={"cluster": on, "verb": verb}, headers=bearer(token)
        )
        return resp.status

    for verb in ("get", "list", "watch"):
        assert await probe(viewer, verb) == 200
    for verb in ("create", "update", "patch", "delete", "deletecollection"):
        assert await probe(viewer, verb) == 403
        assert await probe(manager, verb) == 200
        assert await probe(ADMIN_TOKEN, verb, on="BCS-K8S-99999") == 200
        assert await probe(register, verb) == 403
    assert await probe(register, "get") == 403
    assert await probe(manager, "get", on="BCS-K8S-99999") == 403

    who = await call(
        client, "GET", "/bcsapi/v4/test/probe", token=manager, params={"cluster": cluster, "verb": "get"}
    )
    assert who["data"]["username"] == "manager"
    assert who["data"]["kind"] == "plain"
    forbidden = await call(
        client,
        "GET",
        "/bcsapi/v4/test/probe",
        token=viewer,
        status=403,
        params={"cluster": cluster, "verb": "create"},
    )
    assert forbidden["code"] == 1405403
    assert "viewer" in forbidden["message"]
    assert cluster in forbidden["message"]


async def test_cluster_routes_are_scoped_by_the_path(client: test_utils.TestClient) -> None:
    """A route naming a cluster needs a role on it: the viewer reads, and may not write."""
    mine, other = await make_cluster(client), await make_cluster(client)
    viewer = await make_user(client, "viewer")
    await grant(client, "viewer", mine, "viewer")
    await call(client, "GET", f"{CM}/cluster/{mine}", token=viewer)
    await call(client, "GET", f"{CM}/cluster/{other}", token=viewer, status=403)
    await call(client, "PUT", f"{CM}/cluster/{mine}", token=viewer, status=403, json={"clusterName": "x"})
    await call(client, "POST", f"{CM}/cluster", token=viewer, status=403, json={"clusterName": "x"})
    assert (await call(client, "GET", f"{CM}/cluster/{mine}"))["data"]["clusterName"] == "c"  # unchanged


async def test_a_handler_may_declare_its_verb(aiohttp_client, settings) -> None:
    """A query sent as POST declares itself a read, so viewers may use it."""

    async def query(request: web.Request) -> web.Response:
        return envelope.ok(request.match_info["clusterId"])

    async def write(request: web.Request) -> web.Response:
        return envelope.ok(None)

    query.__bcs_verb__ = "list"  # type: ignore[attr-defined]
    app = app_mod.create_app(settings)
    app.router.add_post("/bcsapi/v4/test/query/clusters/{clusterId}", query)
    app.router.add_post("/bcsapi/v4/test/write/clusters/{clusterId}", write)
    client = await aiohttp_client(app)
    cluster = await make_cluster(client)
    viewer = await make_user(client, "viewer")
    await grant(client, "viewer", cluster, "viewer")
    await call(client, "POST", f"/bcsapi/v4/test/query/clusters/{cluster}", token=viewer)
    await call(client, "POST", f"/bcsapi/v4/test/write/clusters/{cluster}", token=viewer, status=403)
    await call(client, "POST", "/bcsapi/v4/test/query/clusters/BCS-K8S-49999", token=viewer, status=403)


async def test_expired_and_revoked_tokens_are_401(client: test_utils.TestClient) -> None:
    token = await make_user(client, "short")  # plain users' first token lasts a day
    await call(client, "GET", f"{UM}/v1/users/info", token=token)
    client.app[keys.USERS].clock = lambda: time.time() + 2 * 86400
    body = await call(client, "GET", f"{UM}/v1/users/info", token=token, status=401)
    assert body["message"] == "token expired"
    client.app[keys.USERS].clock = time.time

    other = await make_user(client, "revoked", kind="saas")
    token_id = (await call(client, "GET", f"{UM}/v1/users/revoked/tokens"))["data"][0]["token_id"]
    await call(client, "GET", f"{UM}/v1/users/info", token=other)
    await call(client, "DELETE", f"{UM}/v1/tokens/{token_id}")
    await call(client, "GET", f"{UM}/v1/users/info", token=other, status=401)


async def test_tokens_appear_in_no_log_line(
    aiohttp_client, settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Served with the access log `bcs serve` writes, so its lines are checked too.
    server = test_utils.TestServer(app_mod.create_app(settings))
    await server.start_server(
        access_log_class=accesslog.AccessLogger, access_log=logging.getLogger("bcs.access")
    )
    client = await aiohttp_client(server)
    cluster = await make_cluster(client)
    user_token = await make_user(client, "logged")
    extra = (await call(client, "POST", f"{UM}/v1/tokens", json={"username": "logged", "expiration": 60}))[
        "data"
    ]
    register = (await call(client, "POST", f"{UM}/v1/clusters/{cluster}/register_tokens"))["data"]["token"]
    secrets = [ADMIN_TOKEN, user_token, extra["token"], register]
    await call(client, "GET", f"{UM}/v1/users/info", token=user_token)
    wrong = user_token[:-1] + ("1" if user_token.endswith("0") else "0")  # never the token itself
    await call(client, "GET", f"{UM}/v1/users/info", token=wrong, status=401)
    await call(client, "DELETE", f"{UM}/v1/tokens/{extra['token_id']}")
    await call(client, "DELETE", f"{UM}/v1/tokens/{extra['token_id']}", status=404)
    await call(client, "GET", f"/clusters/{cluster}/api", token=register, status=403)
    await call(client, "GET", f"/clusters/{cluster}/api", token=user_token, status=403)
    await call(
        client,
        "GET",
        f"{UM}/v1/permissions/verify",
        json={"user_token": user_token, "resource_type": "cluster", "resource": cluster, "action": "GET"},
    )
    assert len([r for r in caplog.records if r.name == "bcs.access"]) == 11  # one line per request
    for secret in secrets:
        assert secret not in caplog.text


async def test_loggable_path_hides_a_token_in_the_path(aiohttp_client, settings) -> None:
    seen: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            seen.append(middlewares.loggable_path(request))

    app = app_mod.create_app(settings)
    app.middlewares.append(record)
    client = await aiohttp_client(app)
    await call(client, "DELETE", f"{UM}/v1/tokens/{'a' * 32}", status=404)
    await call(client, "GET", f"{UM}/v1/users/info")
    assert seen == [f"{UM}/v1/tokens/{{token}}", f"{UM}/v1/users/info"]


async def test_cluster_proxy_paths_answer_kubernetes_status(client: test_utils.TestClient) -> None:
    cluster = await make_cluster(client)
    viewer = await make_user(client, "viewer")
    for path in (f"/clusters/{cluster}/api/v1/pods", f"/tunnels/clusters/{cluster}/api"):
        resp = await client.get(path)
        assert resp.status == 401
        assert await resp.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "a bearer token is required (Authorization: Bearer <token>)",
            "reason": "Unauthorized",
            "code": 401,
        }
        resp = await client.get(path, headers=bearer(viewer))  # no role on the cluster
        body = await resp.json()
        assert (resp.status, body["kind"], body["reason"], body["code"]) == (403, "Status", "Forbidden", 403)
    resp = await client.get("/clusters/")
    body = await resp.json()
    assert (resp.status, body["kind"], body["reason"]) == (404, "Status", "NotFound")


async def test_error_map_renders_status_with_retry_after(aiohttp_client) -> None:
    async def boom(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind == "down":
            raise errors.BackendUnavailable("cluster BCS-K8S-40001 did not answer")
        if kind == "slow":
            raise errors.TooManyRequests("rate limit exceeded", retry_after=0.2)
        raise RuntimeError("kaboom")

    app = web.Application(middlewares=[middlewares.request_id, middlewares.errors_to_envelope])
    app.router.add_get("/clusters/BCS-K8S-40001/{kind}", boom)
    app.router.add_get("/bcsapi/v4/x/{kind}", boom)
    client = await aiohttp_client(app)
    resp = await client.get("/clusters/BCS-K8S-40001/down")
    assert (resp.status, (await resp.json())["reason"]) == (502, "InternalError")
    assert "BCS-K8S-40001" in (await resp.json())["message"]
    resp = await client.get("/clusters/BCS-K8S-40001/slow")
    assert (resp.status, resp.headers["Retry-After"]) == (429, "1")
    assert (await resp.json())["reason"] == "TooManyRequests"
    resp = await client.get("/clusters/BCS-K8S-40001/other")
    assert (resp.status, (await resp.json())["kind"]) == (500, "Status")
    resp = await client.get("/bcsapi/v4/x/slow")
    assert (resp.status, resp.headers["Retry-After"], (await resp.json())["code"]) == (429, "1", 1405429)
