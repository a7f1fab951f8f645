"""The OpenAPI document covers every ``/bcsapi/v4`` route, including ones added by plugins."""

from __future__ import annotations

import openapi_spec_validator
import pytest
from aiohttp import hdrs, test_utils, web

import bcs
from bcs import app as app_mod
from bcs import config, envelope

DOC = "/bcsapi/v4/openapi.json"


class DemoRoutes:
    """A plugin adding module routes, as a backend would."""

    @bcs.hookimpl
    def bcs_register_routes(self, settings: config.BcsSettings) -> list[web.RouteDef]:
        async def hello(request: web.Request) -> web.Response:
            """Say hello to someone.

            A longer description.
            """
            return envelope.ok({"hello": request.match_info["name"]})

        async def anything(request: web.Request) -> web.Response:
            return envelope.ok(None)

        return [
            web.get("/bcsapi/v4/demo/hello/{name}", hello),
            web.put("/bcsapi/v4/demo/hello/{name}", hello),
            web.route("*", "/bcsapi/v4/demo/any/{rest:.*}", anything),
            web.get("/outside/the/api", anything),
        ]


@pytest.fixture
async def client(aiohttp_client, settings, make_plugins) -> test_utils.TestClient:
    return await aiohttp_client(app_mod.create_app(settings, plugins=make_plugins(("demo", DemoRoutes()))))


def _registered(app: web.Application) -> set[tuple[str, str]]:
    """Every (path template, method) the router serves under /bcsapi/v4, read straight off the router."""
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if not path.startswith("/bcsapi/v4") or route.method == hdrs.METH_HEAD:
            continue
        methods = (
            ("get", "post", "put", "patch", "delete") if route.method == hdrs.METH_ANY else (route.method,)
        )
        found.update((path, m.lower()) for m in methods)
    return found


async def test_every_route_is_documented_and_nothing_else(client: test_utils.TestClient) -> None:
    resp = await client.get(DOC)  # served without a token
    assert resp.status == 200
    doc = await resp.json()
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    registered = _registered(client.app)
    assert registered - documented == set()
    assert documented == registered
    # The module routes of this issue and the plugin's are among them.
    for path, method in [
        ("/bcsapi/v4/clustermanager/v1/cluster", "post"),
        ("/bcsapi/v4/clustermanager/v1/clustercredential/{serverKey}", "put"),
        ("/bcsapi/v4/clustermanager/v1/clusters/{clusterID}/kubeconfig", "get"),
        ("/bcsapi/v4/usermanager/v1/permissions", "delete"),
        ("/bcsapi/v4/usermanager/v1/tokens/{token}", "put"),
        ("/bcsapi/v4/demo/hello/{name}", "put"),
        ("/bcsapi/v4/demo/any/{rest}", "patch"),
        ("/bcsapi/v4/openapi.json", "get"),
    ]:
        assert (path, method) in documented
    assert not any(path.startswith("/outside") for path in doc["paths"])


async def test_document_is_valid_openapi_3(client: test_utils.TestClient) -> None:
    doc = await (await client.get(DOC)).json()
    assert doc["openapi"].startswith("3.0")
    openapi_spec_validator.validate(doc)
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


async def test_operations_carry_docstrings_parameters_and_security(client: test_utils.TestClient) -> None:
    paths = (await (await client.get(DOC)).json())["paths"]
    hello = paths["/bcsapi/v4/demo/hello/{name}"]["get"]
    assert (hello["summary"], hello["description"]) == ("Say hello to someone.", "A longer description.")
    assert hello["parameters"] == [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    assert hello["tags"] == ["demo"]
    assert "security" not in hello  # the document-wide bearer requirement applies

    listing = paths["/bcsapi/v4/clustermanager/v1/cluster"]["get"]
    assert listing["summary"].startswith("Clusters matching the filters")
    assert {"projectID", "engineType", "offset", "limit"} <= {p["name"] for p in listing["parameters"]}
    create = paths["/bcsapi/v4/clustermanager/v1/cluster"]["post"]
    assert "engineType" in create["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert paths["/bcsapi/v4/openapi.json"]["get"]["security"] == []
    legacy = paths["/bcsapi/v4/usermanager/v1/clusters/{cluster_id}/credentials"]
    assert legacy["put"]["security"] == []  # authenticated by the register token in its body
    assert "security" not in legacy["get"]
