"""fieldValidation (Strict, Warn, Ignore) on built-in kinds and custom resources, and CRD pruning/defaults."""

from __future__ import annotations

import json
from typing import Any

from bcs.sim.kube import cluster
from tests.sim.kube import manifests
from tests.sim.kube.conftest import Http, Kubectl

CM = "/api/v1/namespaces/default/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def _deployment(name: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx", **container}]},
            },
        },
    }


def _warnings(http: Http) -> list[str]:
    return [json.loads(v.split(" ", 2)[2]) for v in http.headers.getall("Warning", [])]


async def test_create_and_update_by_directive(http: Http) -> None:
    raw = b'{"metadata":{"name":"s","foo":1},"data":{"a":"1","a":"2"},"bogus":true}'
    code, body = await http("POST", CM + "?fieldValidation=Strict", raw)
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "metadata.foo", duplicate field "data.a", unknown field "bogus"'
    )
    code, _ = await http("GET", CM + "/s")
    assert code == 404

    code, body = await http("POST", CM + "?fieldValidation=Warn", raw.replace(b'"s"', b'"w"'))
    assert code == 201
    found = ['unknown field "metadata.foo"', 'duplicate field "data.a"', 'unknown field "bogus"']
    assert _warnings(http) == found
    assert body["data"] == {"a": "2"}
    assert "bogus" not in body
    assert "foo" not in body["metadata"]

    for query in ("?fieldValidation=Ignore", ""):  # no parameter means Warn
        code, body = await http("POST", CM + query, raw.replace(b'"s"', b'"i' + query[-1:].encode() + b'"'))
        assert code == 201
        assert ("bogus" in body, bool(_warnings(http))) == (False, query == "")

    code, body = await http("POST", CM + "?fieldValidation=Loose", {"metadata": {"name": "x"}})
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )

    # Nested paths: list items, and the status subresource (a whole-object update).
    code, body = await http("POST", DEPLOY + "?fieldValidation=Strict", _deployment("d", foo="bar"))
    assert code == 400
    assert body["message"].endswith('unknown field "spec.template.spec.containers[0].foo"')
    good = _deployment("d", ports=[{"containerPort": 80}])
    code, body = await http("POST", DEPLOY + "?fieldValidation=Strict", good)
    assert code == 201
    body["spec"]["paused"] = True
    body["spec"]["pasued"] = True
    code, put = await http("PUT", DEPLOY + "/d?fieldValidation=Strict", body)
    assert code == 400
    assert put["message"].endswith('strict decoding error: unknown field "spec.pasued"')
    del body["spec"]["pasued"]
    body["status"] = {"replicas": 1, "bogus": 2}
    code, put = await http("PUT", DEPLOY + "/d/status?fieldValidation=Strict", body)
    assert (code, put["message"].rsplit(": ", 1)[1]) == (400, 'unknown field "status.bogus"')
    scale = {"spec": {"replicas": 2, "x": 1}}
    code, put = await http("PUT", DEPLOY + "/d/scale?fieldValidation=Strict", scale)
    assert put["message"] == (
        'Scale in version "v1" cannot be handled as a Scale: strict decoding error: unknown field "spec.x"'
    )


async def test_yaml_bodies_report_duplicate_keys_like_go_yaml(http: Http) -> None:
    doc = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n"
        b"data:\n  a: '1'\n  when: 2024-01-01\n  a: '2'\nbogus: 1\nmetadata:\n  name: y\n"
    )
    code, body = await http("POST", CM + "?fieldValidation=Strict", doc, ctype="application/yaml")
    assert (code, body["message"]) == (
        400,
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        "yaml: unmarshal errors:\n"
        '  line 8: key "a" already set in map\n'
        '  line 11: key "metadata" already set in map, unknown field "bogus"',
    )
    code, body = await http("POST", CM, doc, ctype="application/yaml")
    assert code == 201, body
    assert _warnings(http) == [
        'yaml: unmarshal errors:   line 8: key "a" already set in map   line 11: key "metadata" already set '
        "in map",
        'unknown field "bogus"',
    ]
    # The last value of a repeated key wins; timestamps stay strings, as go-yaml keeps them.
    assert body["data"] == {"a": "2", "when": "2024-01-01"}
    code, body = await http(
        "PUT", CM + "/y?fieldValidation=Strict", doc.replace(b"bogus: 1\n", b""), ctype="application/yaml"
    )
    assert code == 400
    assert body["message"].endswith('  line 10: key "metadata" already set in map')
    code, body = await http("PUT", CM + "/y?fieldValidation=Ignore", doc, ctype="application/yaml")
    assert (code, _warnings(http)) == (200, [])


async def test_values_of_the_wrong_type_fail_whatever_the_directive(http: Http) -> None:
    cases = [
        ({"replicas": "3"}, "string into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ({"replicas": 1.5}, "number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ({"paused": "yes"}, "string into Go struct field DeploymentSpec.spec.paused of type bool"),
        (
            {"template": {"spec": {"containers": {"name": "c"}}}},
            "object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container",
        ),
        (
            {"template": {"spec": {"containers": [{"name": "c", "image": 7}]}}},
            "number into Go struct field Container.spec.template.spec.containers.image of type string",
        ),
    ]
    for spec, error in cases:
        body = _deployment("typed")
        body["spec"].update(spec)
        code, reply = await http("POST", DEPLOY + "?fieldValidation=Ignore", body)
        assert (code, reply["message"]) == (
            400,
            f'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal {error}',
        )
    body = _deployment("typed", resources={"requests": {"cpu": "lots"}})
    code, reply = await http("POST", DEPLOY, body)
    assert code == 400
    assert reply["message"].endswith(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    # Quantities as numbers and int-or-strings either way are fine.
    body = _deployment("typed", resources={"requests": {"cpu": 0.5, "memory": "64Mi"}})
    body["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": "10%"}}
    code, reply = await http("POST", DEPLOY + "?fieldValidation=Strict", body)
    assert code == 201, reply
    code, reply = await http(
        "PATCH", DEPLOY + "/typed", {"spec": {"replicas": "x"}}, ctype="application/merge-patch+json"
    )
    assert code == 422
    assert reply["details"]["causes"][0]["message"].endswith(
        '": json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32'
    )


async def test_patches_by_directive(http: Http) -> None:
    code, _ = await http("POST", CM, {"metadata": {"name": "p"}, "data": {"a": "1"}})
    assert code == 201
    code, body = await http(
        "PATCH", CM + "/p?fieldValidation=Strict", {"foo": 1}, ctype="application/merge-patch+json"
    )
    assert (code, body["reason"]) == (422, "Invalid")
    cause = body["details"]["causes"][0]
    assert cause["field"] == "patch"
    assert cause["message"].startswith('Invalid value: "{')
    assert cause["message"].endswith('": strict decoding error: unknown field "foo"')
    assert body["message"].startswith(' "" is invalid: patch: Invalid value: ')

    code, body = await http(
        "PATCH",
        CM + "/p?fieldValidation=Strict",
        b'{"data":{"b":"2","b":"3"},"x":1}',
        ctype="application/strategic-merge-patch+json",
    )
    assert code == 422
    assert body["details"]["causes"][0]["message"] == (
        'Invalid value: "map[data:map[b:3] x:1]": strict decoding error: duplicate field "data.b", '
        'unknown field "x"'
    )
    ops = [
        {"op": "add", "path": "/data/c", "value": "3", "bogus": 1},
        {"op": "add", "path": "/y", "value": 1},
    ]
    code, body = await http("PATCH", CM + "/p?fieldValidation=Strict", ops, ctype=JSON_PATCH)
    assert code == 422
    assert body["details"]["causes"][0]["message"].endswith(
        'strict decoding error: json patch unknown field "[0].bogus", unknown field "y"'
    )
    code, body = await http("GET", CM + "/p")
    assert body["data"] == {"a": "1"}

    code, body = await http("PATCH", CM + "/p", ops, ctype=JSON_PATCH)
    assert code == 200
    assert _warnings(http) == ['json patch unknown field "[0].bogus"', 'unknown field "y"']
    assert body["data"] == {"a": "1", "c": "3"}
    assert "y" not in body

    # Server-side apply: undeclared fields fail the typed conversion whatever the directive.
    apply = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}, "spec": {"x": 1}}
    code, body = await http("PATCH", CM + "/p?fieldManager=t&fieldValidation=Ignore", apply, ctype=APPLY)
    assert code == 500
    assert body["message"] == (
        "failed to create typed patch object (/p; /v1, Kind=ConfigMap): .spec: field not declared in schema"
    )
    assert "reason" not in body
    dup = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p"},"data":{"a":"1","a":"2"}}'
    code, body = await http(
        "PATCH", CM + "/p?fieldManager=t&force=true&fieldValidation=Strict", dup, ctype=APPLY
    )
    assert (code, body["message"]) == (
        400,
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n"
        '  line 1: key "a" already set in map',
    )
    code, body = await http("PATCH", CM + "/p?fieldManager=t&force=true", dup, ctype=APPLY)
    assert code == 200
    assert _warnings(http) == ['line 1: key "a" already set in map']
    assert body["data"]["a"] == "2"


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "default": 3},
                                    "mode": {"type": "string", "default": "fast"},
                                    "items": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "name": {"type": "string"},
                                                "weight": {"type": "integer", "default": 1},
                                            },
                                        },
                                    },
                                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                    "note": {"type": "string", "nullable": True},
                                    "tag": {"type": "string"},
                                },
                            },
                            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                        },
                    }
                },
            }
        ],
    },
}


async def _crd(http: Http, kube_sim: cluster.KubeSim, crd: dict[str, Any]) -> None:
    code, body = await http("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert code == 201, body


async def test_custom_resources_are_pruned_and_defaulted(http: Http, kube_sim: cluster.KubeSim) -> None:
    await _crd(http, kube_sim, CRD)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "bogusMeta": 1},
        "spec": {
            "items": [{"name": "a", "extra": 1}, {"name": "b", "weight": 5}],
            "labels": {"x": "y"},
            "free": {"anything": {"goes": [1, 2]}},
            "unknown": {"deep": 1},
            "note": None,
            "tag": None,
        },
        "status": {"phase": "Ready", "other": 1},
    }
    code, body = await http("POST", WIDGETS + "?fieldValidation=Strict", widget)
    assert code == 400
    assert body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "metadata.bogusMeta", unknown field "spec.items[0].extra", '
        'unknown field "spec.unknown", unknown field "status.other"'
    )
    code, body = await http("POST", WIDGETS, widget)
    assert code == 201
    assert _warnings(http)[-1] == 'unknown field "status.other"'
    assert body["spec"] == {
        "items": [{"name": "a", "weight": 1}, {"name": "b", "weight": 5}],
        "labels": {"x": "y"},
        "free": {"anything": {"goes": [1, 2]}},
        "note": None,
        "size": 3,
        "mode": "fast",
    }
    assert "status" not in body  # status is set through /status only
    assert "bogusMeta" not in body["metadata"]

    # Defaults apply on update and patch too, and pruning follows merge patches.
    code, body = await http(
        "PATCH", WIDGETS + "/w", {"spec": {"size": None, "zzz": 1}}, ctype="application/merge-patch+json"
    )
    assert code == 200
    assert (body["spec"]["size"], "zzz" in body["spec"]) == (3, False)
    assert _warnings(http) == ['unknown field "spec.zzz"']

    # A default added to the CRD later shows on objects already stored (read-time defaulting).
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    _, crd = await http("GET", crd_path)
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    props["tag"]["default"] = "none"
    code, _ = await http("PUT", crd_path, crd)
    assert code == 200
    _, body = await http("GET", WIDGETS + "/w")
    assert body["spec"]["tag"] == "none"
    _, listed = await http("GET", WIDGETS)
    assert listed["items"][0]["spec"]["tag"] == "none"


async def test_kubectl_validation_modes(kube_sim: cluster.KubeSim, kubectl: Kubectl) -> None:
    bad = manifests.SSA.replace("\ndata:", "\nbogus: 1\ndata:")
    res = await kubectl("apply", "-f", "-", stdin=bad, check=False)
    assert res.rc == 1
    assert (
        'Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be '
        'handled as a ConfigMap: strict decoding error: unknown field "bogus"'
    ) in res.err
    res = await kubectl("apply", "--validate=warn", "-f", "-", stdin=bad)
    assert "configmap/ssa created" in res.out
    assert 'Warning: unknown field "bogus"' in res.err
    bad = bad.replace("name: ssa", "name: ssa2")
    res = await kubectl("apply", "--server-side", "-f", "-", stdin=bad, check=False)
    assert res.rc == 1
    assert ".bogus: field not declared in schema" in res.err
    # Every manifest the kubectl tests use is valid as strict 1.32 objects.
    for doc in (manifests.APP, manifests.SSA, manifests.CRD):
        await kubectl("apply", "--validate=strict", "--dry-run=server", "-f", "-", stdin=doc)
