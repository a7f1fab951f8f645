"""Server-side apply errors name list items the way structured-merge-diff does: ``[name="c"]``."""

from __future__ import annotations

from typing import Any

from tests.sim.kube.conftest import Http
from tests.sim.kube.manifests import GADGET_CRD

DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
GADGETS = "/apis/example.com/v1/namespaces/default/gadgets"
APPLY = "application/apply-patch+yaml"


def _deployment(image: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": image, **container}]},
            },
        },
    }


async def test_undeclared_fields_and_conflicts_use_associative_keys(http: Http) -> None:
    bad = _deployment("nginx", ports=[{"containerPort": 80, "bogus": 1}])
    code, body = await http("PATCH", DEPLOY + "/d?fieldManager=a", bad, ctype=APPLY)
    assert (code, body["message"]) == (
        500,
        "failed to create typed patch object (/d; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"].bogus: '
        "field not declared in schema",
    )
    good = _deployment("nginx", ports=[{"containerPort": 53, "protocol": "UDP", "hostPort": 1}])
    code, _ = await http("PATCH", DEPLOY + "/d?fieldManager=a", good, ctype=APPLY)
    assert code == 201
    other = _deployment("nginx", ports=[{"containerPort": 53, "protocol": "UDP", "hostPort": 2}])
    code, body = await http("PATCH", DEPLOY + "/d?fieldManager=b", other, ctype=APPLY)
    assert (code, body["reason"]) == (409, "Conflict")
    field = '.spec.template.spec.containers[name="c"].ports[containerPort=53,protocol="UDP"].hostPort'
    assert body["message"] == f'Apply failed with 1 conflict: conflict with "a" using apps/v1: {field}'
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "a" using apps/v1', "field": field}
    ]
    code, body = await http("PATCH", DEPLOY + "/d?fieldManager=b", _deployment("httpd"), ctype=APPLY)
    assert code == 409
    assert body["details"]["causes"][0]["field"] == '.spec.template.spec.containers[name="c"].image'
    code, body = await http("PATCH", DEPLOY + "/d?fieldManager=b&force=true", other, ctype=APPLY)
    assert (code, body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPort"]) == (200, 2)


async def test_custom_resource_lists_are_keyed_by_their_schema(http: Http) -> None:
    code, _ = await http("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", GADGET_CRD)
    assert code == 201
    gadget = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "p"},
        "spec": {"size": 1, "ports": [{"name": "x", "extra": 1}], "hosts": ["a"], "tags": ["t"]},
    }
    code, body = await http("PATCH", GADGETS + "/p?fieldManager=a", gadget, ctype=APPLY)
    assert code == 500
    assert body["message"].endswith('.spec.ports[name="x"].extra: field not declared in schema')
    del gadget["spec"]["ports"][0]["extra"]
    gadget["spec"]["tags"] = [{"nested": True}]
    code, body = await http("PATCH", GADGETS + "/p?fieldManager=a", gadget, ctype=APPLY)
    assert code == 500
    assert body["message"].endswith(".spec.tags[0].nested: field not declared in schema")
