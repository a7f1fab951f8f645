"""The Kubernetes verb of a proxied request decides which role it needs."""

from __future__ import annotations

import pytest

from bcs.gateway import kubeverbs


@pytest.mark.parametrize(
    ("method", "path", "query", "verb"),
    [
        ("GET", "/version", {}, "get"),
        ("GET", "/api", {}, "get"),
        ("GET", "/apis/apps/v1", {}, "get"),
        ("GET", "/openapi/v3", {}, "get"),
        ("GET", "/api/v1/pods", {}, "list"),
        ("GET", "/api/v1/namespaces/default/pods", {"limit": "500"}, "list"),
        ("GET", "/api/v1/namespaces/default/pods/web-1", {}, "get"),
        ("GET", "/api/v1/namespaces/default/pods/web-1/log", {"follow": "true"}, "get"),
        ("GET", "/api/v1/namespaces/default/pods", {"watch": "true"}, "watch"),
        ("GET", "/api/v1/namespaces/default/pods", {"watch": "1"}, "watch"),
        ("GET", "/api/v1/namespaces/default/pods", {"watch": "True"}, "watch"),
        ("GET", "/api/v1/namespaces/default/pods", {"watch": "false"}, "list"),
        ("GET", "/api/v1/watch/namespaces/default/pods", {}, "watch"),
        ("GET", "/apis/apps/v1/watch/deployments", {}, "watch"),
        ("GET", "/api/v1/namespaces", {}, "list"),
        ("GET", "/api/v1/namespaces/default", {}, "get"),
        ("PUT", "/api/v1/namespaces/default/status", {}, "update"),
        ("POST", "/apis/apps/v1/namespaces/default/deployments", {}, "create"),
        ("PUT", "/apis/apps/v1/namespaces/default/deployments/web", {}, "update"),
        ("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", {}, "patch"),
        ("DELETE", "/apis/apps/v1/namespaces/default/deployments/web", {}, "delete"),
        ("DELETE", "/api/v1/namespaces/default/pods", {"labelSelector": "app=x"}, "deletecollection"),
        ("GET", "/api/v1/namespaces/default/pods/web-1/exec", {"command": "sh"}, "create"),
        ("POST", "/api/v1/namespaces/default/pods/web-1/attach", {}, "create"),
        ("GET", "/api/v1/namespaces/default/pods/web-1/portforward", {}, "create"),
        ("OPTIONS", "/api/v1/pods", {}, "create"),
    ],
)
def test_verb(method: str, path: str, query: dict[str, str], verb: str) -> None:
    assert kubeverbs.kube_verb(method, path, query) == verb


def test_only_watches_and_follows_stream() -> None:
    assert kubeverbs.streams("watch", {})
    assert kubeverbs.streams("get", {"follow": "true"})
    assert not kubeverbs.streams("get", {"follow": "false"})
    assert not kubeverbs.streams("list", {})
