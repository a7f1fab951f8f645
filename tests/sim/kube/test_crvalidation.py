"""Custom resources are validated against their CRD's openAPIV3Schema, with the apiserver's 422s."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import kubernetes
import pytest

from bcs.sim.kube import cluster
from tests.sim.kube import manifests
from tests.sim.kube.conftest import Http, Kubectl

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GADGETS = "/apis/example.com/v1/namespaces/default/gadgets"
MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"
SIZE_MAX = "spec.size in body should be less than or equal to 10"
FAST_SLOW = 'supported values: "Fast", "Slow"'


def _gadget(obj_name: str, /, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": obj_name}, "spec": spec}


async def _setup(http: Http) -> None:
    code, body = await http("POST", CRDS, manifests.GADGET_CRD)
    assert code == 201, body


def _causes(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["reason"], c["field"], c["message"]) for c in body["details"]["causes"]]


async def test_values_are_validated_with_the_apiservers_causes(http: Http) -> None:
    await _setup(http)
    bad = _gadget(
        "g",
        size="3",
        ratio=1,
        mode="Medium",
        name="AB",
        port=True,
        tags=["a", "b", "c"],
        labels={"a": "1", "b": "2", "c": "3"},
        at="yesterday",
    )
    code, body = await http("POST", GADGETS, bad)
    assert (code, body["reason"], body["details"]["kind"], body["details"]["name"]) == (
        422,
        "Invalid",
        "Gadget",
        "g",
    )
    expected = [
        (
            "FieldValueTypeInvalid",
            "spec.size",
            'Invalid value: "string": spec.size in body must be of type integer: "string"',
        ),
        ("FieldValueInvalid", "spec.ratio", "Invalid value: 1: spec.ratio in body should be less than 1"),
        ("FieldValueNotSupported", "spec.mode", 'Unsupported value: "Medium": ' + FAST_SLOW),
        (
            "FieldValueInvalid",
            "spec.name",
            "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'",
        ),
        (
            "FieldValueTypeInvalid",
            "spec.port",
            'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        ),
        (
            "FieldValueInvalid",
            "<nil>",
            'Invalid value: "": "spec.port" must validate at least one schema ' + "(anyOf)",
        ),
        (
            "FieldValueTypeInvalid",
            "spec.port",
            'Invalid value: "boolean": spec.port in body must be of type integer: "boolean"',
        ),
        ("FieldValueTooMany", "spec.tags", "Too many: 3: must have at most 2 items"),
        ("FieldValueTooMany", "spec.labels", "Too many: 3: must have at most 2 items"),
        (
            "FieldValueTypeInvalid",
            "spec.at",
            'Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday"',
        ),
        (
            "FieldValueInvalid",
            ".spec.size",
            "Invalid value: 0: .spec.size accessor error: 3 is of the type string, expected int64",
        ),
    ]
    assert _causes(body) == expected
    assert body["message"].startswith(
        'Gadget.example.com "g" is invalid: [spec.size: Invalid value: "string": spec.size in body must be '
        'of type integer: "string", spec.ratio: Invalid value: 1: '
    )
    code, _ = await http("GET", GADGETS + "/g")
    assert code == 404

    # Required fields, bounds, lengths; an integral float is an integer; int32 is not checked.
    code, body = await http("POST", GADGETS, _gadget("g", name="abcdefgh"))
    assert _causes(body) == [
        ("FieldValueTooLong", "spec.name", "Too long: may not be more than 6 bytes"),
        ("FieldValueRequired", "spec.size", "Required value"),
    ]
    code, body = await http("POST", GADGETS, _gadget("g", size=0, ports=[{"number": 200}]))
    assert _causes(body) == [
        (
            "FieldValueInvalid",
            "spec.size",
            "Invalid value: 0: spec.size in body should be greater than or " + "equal to 1",
        ),
        (
            "FieldValueInvalid",
            "spec.ports[0].number",
            "Invalid value: 200: spec.ports[0].number in body should be less than or equal to 100",
        ),
        ("FieldValueRequired", "spec.ports[0].name", "Required value"),
    ]
    good = _gadget("g", size=2, replicas=2**40, port="http", note=None, at="2024-05-01T10:00:00Z")
    good["spec"]["ports"] = [{"name": "a", "number": 2.0}]
    code, body = await http("POST", GADGETS, good)
    assert code == 201, body
    assert body["spec"]["mode"] == "Fast"  # defaults apply before validation
    # ... but the scale subresource's replicas must be a JSON integer.
    code, body = await http("PATCH", GADGETS + "/g", {"spec": {"size": 2.0}}, ctype=MERGE)
    assert _causes(body) == [
        (
            "FieldValueInvalid",
            ".spec.size",
            "Invalid value: 0: .spec.size accessor error: 2 is of the type float64, expected int64",
        )
    ]


async def test_list_types_embedded_resources_and_scale(http: Http) -> None:
    await _setup(http)
    gadget = _gadget(
        "l",
        size=1,
        hosts=["a", "b", "a", "a"],
        ports=[{"name": "x", "number": 1}, {"name": "x", "number": 2}],
        template={"metadata": {"name": "t"}},
    )
    code, body = await http("POST", GADGETS, gadget)
    assert code == 422
    assert _causes(body) == [
        ("FieldValueRequired", "spec.template.apiVersion", "Required value: must not be empty"),
        ("FieldValueRequired", "spec.template.kind", "Required value: must not be empty"),
        ("FieldValueDuplicate", "spec.hosts[2]", 'Duplicate value: "a"'),
        ("FieldValueDuplicate", "spec.ports[1]", 'Duplicate value: map[string]interface {}{"name":"x"}'),
    ]
    gadget["spec"].update(hosts=["a"], ports=[{"name": "x"}], template={"apiVersion": "v1", "kind": "Pod"})
    code, body = await http("POST", GADGETS, gadget)
    assert code == 201, body

    code, body = await http("PUT", GADGETS + "/l/scale", {"spec": {"replicas": 20}})
    assert code == 422
    assert _causes(body) == [("FieldValueInvalid", "spec.size", "Invalid value: 20: " + SIZE_MAX)]
    code, body = await http("PUT", GADGETS + "/l/scale", {"spec": {"replicas": 4}})
    assert (code, body["spec"]["replicas"]) == (200, 4)


async def test_status_updates_validate_status_only(http: Http) -> None:
    await _setup(http)
    # A create drops status before validating: a bad one does not matter.
    code, obj = await http("POST", GADGETS, {**_gadget("s", size=1), "status": {"phase": 7}})
    assert (code, "status" in obj) == (201, False)
    obj["status"] = {"phase": 7, "size": -1}
    code, body = await http("PUT", GADGETS + "/s/status", obj)
    assert code == 422
    assert _causes(body) == [
        (
            "FieldValueTypeInvalid",
            "status.phase",
            'Invalid value: "integer": phase in body must be of type string: "integer"',
        ),
        ("FieldValueInvalid", ".status.size", "Invalid value: -1: should be a non-negative integer"),
    ]
    code, body = await http("PATCH", GADGETS + "/s/status", {"status": {"phase": "Ready"}}, ctype=MERGE)
    assert (code, body["status"]) == (200, {"phase": "Ready"})
    # A status write ignores spec (invalid spec values sent along do not matter).
    obj = {**body, "spec": {"size": "nonsense"}, "status": {"phase": "Done"}}
    code, body = await http("PUT", GADGETS + "/s/status", obj)
    assert (code, body["spec"]["size"], body["status"]["phase"]) == (200, 1, "Done")
    # A status write without status (or with a null one) removes it.
    code, body = await http("PUT", GADGETS + "/s/status", {**body, "status": None})
    assert (code, "status" in body) == (200, False)


async def test_patch_and_apply_are_validated_and_updates_ratchet(http: Http) -> None:
    await _setup(http)
    code, _ = await http("POST", GADGETS, _gadget("r", size=5, mode="Slow"))
    assert code == 201
    code, body = await http("PATCH", GADGETS + "/r", {"spec": {"size": 11}}, ctype=MERGE)
    assert code == 422
    assert _causes(body)[0][1:] == ("spec.size", "Invalid value: 11: " + SIZE_MAX)
    applied = _gadget("r", size=2, mode="Turbo")
    code, body = await http("PATCH", GADGETS + "/r?fieldManager=t&force=true", applied, ctype=APPLY)
    assert code == 422
    assert _causes(body) == [
        ("FieldValueNotSupported", "spec.mode", 'Unsupported value: "Turbo": ' + FAST_SLOW)
    ]
    code, body = await http("PATCH", GADGETS + "/new?fieldManager=t", _gadget("new", size=0), ctype=APPLY)
    assert (code, _causes(body)[0][1]) == (422, "spec.size")

    # Tighten the schema: the stored object no longer fits, yet changes elsewhere are accepted (ratcheting);
    # changing the offending field to another bad value is not.
    _, crd = await http("GET", CRDS + "/gadgets.example.com")
    tight = copy.deepcopy(crd)
    spec_schema = tight["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["properties"]["size"]["maximum"] = 3
    spec_schema["properties"]["mode"]["enum"] = ["Fast"]
    code, _ = await http("PUT", CRDS + "/gadgets.example.com", tight)
    assert code == 200
    code, body = await http("PATCH", GADGETS + "/r", {"spec": {"name": "ok"}}, ctype=MERGE)
    assert (code, body["spec"]["size"], body["spec"]["mode"]) == (200, 5, "Slow")
    code, body = await http("PATCH", GADGETS + "/r", {"spec": {"size": 4}}, ctype=MERGE)
    assert code == 422
    assert [c[1] for c in _causes(body)] == ["spec.size"]


def _official_client(kubeconfig: str) -> tuple[int, dict[str, Any]]:
    api_client = kubernetes.config.new_client_from_config(config_file=kubeconfig)
    try:
        custom = kubernetes.client.CustomObjectsApi(api_client)
        with pytest.raises(kubernetes.client.ApiException) as err:
            custom.create_namespaced_custom_object(
                "example.com", "v1", "default", "gadgets", _gadget("c", size=3, tags=[1])
            )
        created = custom.create_namespaced_custom_object(
            "example.com", "v1", "default", "gadgets", _gadget("c", size=3, tags=["1"])
        )
        assert created["spec"]["tags"] == ["1"]
        return err.value.status, json.loads(err.value.body)
    finally:
        api_client.close()


async def test_official_client_and_kubectl_see_the_422(
    http: Http, kube_sim: cluster.KubeSim, kubectl: Kubectl
) -> None:
    await _setup(http)
    code, body = await asyncio.to_thread(_official_client, kube_sim.kubeconfig)
    assert (code, body["reason"]) == (422, "Invalid")
    assert _causes(body) == [
        (
            "FieldValueTypeInvalid",
            "spec.tags[0]",
            'Invalid value: "integer": spec.tags[0] in body must be of type string: "integer"',
        )
    ]
    doc = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: k}\nspec: {size: 12, mode: Fast}\n"
    res = await kubectl("apply", "-f", "-", stdin=doc, check=False)
    assert res.rc == 1
    assert (
        'The Gadget "k" is invalid: spec.size: Invalid value: 12: spec.size in body should be less than or '
        "equal to 10"
    ) in res.err
    res = await kubectl("apply", "--server-side", "-f", "-", stdin=doc, check=False)
    assert res.rc == 1
    assert "spec.size in body should be less than or equal to 10" in res.err
    await kubectl("apply", "-f", "-", stdin=doc.replace("size: 12", "size: 9"))
    res = await kubectl("scale", "gadget/k", "--replicas=11", check=False)
    assert res.rc == 1
    assert "spec.size in body should be less than or equal to 10" in res.err
    res = await kubectl("get", "gadget/k", "-o", "jsonpath={.spec.size}")
    assert res.out == "9"
