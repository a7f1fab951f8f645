"""CustomResourceDefinitions are defaulted and validated on create, update and /status as the 1.32
apiextensions apiserver does: 422 Invalid with its fields (internal paths) and wording."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from bcs.plugins.k8s.operators import cli as operators_cli
from bcs.sim.kube import cluster, fielderr
from tests.sim.kube.conftest import Http, Kubectl, until

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
Mutator = Callable[[dict[str, Any]], Any]
Causes = list[tuple[str, str, str]]


def _crd(**spec_schema: Any) -> dict[str, Any]:
    props = {"a": {"type": "string"}, **spec_schema}
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "foos", "kind": "Foo"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


def _v0(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]


def _spec(crd: dict[str, Any]) -> dict[str, Any]:
    return _v0(crd)["schema"]["openAPIV3Schema"]["properties"]["spec"]


V = "spec.validation.openAPIV3Schema"  # where a one-version CRD's schema errors are reported
S = f"{V}.properties[spec]"
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
CASES: list[tuple[str, Mutator, Causes]] = [
    (
        "a field without type",
        lambda c: _spec(c).pop("type"),
        [
            (
                "FieldValueRequired",
                f"{S}.type",
                "Required value: must not be empty for specified object fields",
            )
        ],
    ),
    (
        "array items without type, an array without items",
        lambda c: _spec(c)["properties"].update(l={"type": "array", "items": {}}, m={"type": "array"}),
        [
            (
                "FieldValueRequired",
                f"{S}.properties[l].items.type",
                "Required value: must not be empty for specified array items",
            ),
            ("FieldValueRequired", f"{S}.properties[m].items", "Required value: must be specified"),
        ],
    ),
    (
        "uniqueItems, $ref, additionalProperties beside properties",
        lambda c: _spec(c).update(
            {"uniqueItems": True, "$ref": "#/x", "additionalProperties": {"type": "string"}}
        ),
        [
            ("FieldValueForbidden", f"{S}.$ref", "Forbidden: $ref is not supported"),
            (
                "FieldValueForbidden",
                f"{S}.uniqueItems",
                "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            ),
            (
                "FieldValueForbidden",
                f"{S}.additionalProperties",
                "Forbidden: additionalProperties and properties are mutual exclusive",
            ),
        ],
    ),
    (
        "metadata restricted beyond name",
        lambda c: _v0(c)["schema"]["openAPIV3Schema"]["properties"].update(
            metadata={"type": "object", "properties": {"labels": {"type": "object"}}}
        ),
        [
            (
                "FieldValueForbidden",
                f"{V}.properties[metadata]",
                "Forbidden: must not specify anything other than name and generateName, but metadata is "
                "implicitly specified",
            )
        ],
    ),
    (
        "type inside anyOf",
        lambda c: _spec(c).update(anyOf=[{"type": "object"}]),
        [("FieldValueForbidden", f"{S}.anyOf[0].type", "Forbidden: must be empty to be structural")],
    ),
    (
        "a default of the wrong type, an unpruned default",
        lambda c: _spec(c)["properties"].update(
            n={"type": "integer", "default": "x"},
            o={"type": "object", "properties": {"p": {"type": "string"}}, "default": {"p": "x", "q": 1}},
        ),
        [
            (
                "FieldValueTypeInvalid",
                f"{S}.properties[n].default",
                'Invalid value: "string":  in body must be of type integer: "string"',
            ),
            (
                "FieldValueInvalid",
                f"{S}.properties[o].default",
                'Invalid value: map[string]interface {}{"p":"x", "q":1}: must not have unknown fields',
            ),
        ],
    ),
    (
        "a map list whose key may be absent",
        lambda c: _spec(c)["properties"].update(
            l={
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["k"],
                "items": {"type": "object", "properties": {"k": {"type": "string"}}},
            }
        ),
        [
            (
                "FieldValueRequired",
                f"{S}.properties[l].items.properties[k].default",
                "Required value: this property is in x-kubernetes-list-map-keys, so it must have a default "
                "or be a required property",
            )
        ],
    ),
    (
        "a pattern Go cannot compile",
        lambda c: _spec(c)["properties"]["a"].update(pattern="^(?!x)"),
        [
            (
                "FieldValueInvalid",
                f"{S}.properties[a].pattern",
                'Invalid value: "^(?!x)": must be a valid regular expression, but isn\'t: error parsing '
                "regexp: invalid or unsupported Perl syntax: `(?!`",
            )
        ],
    ),
    (
        "names, group, scope",
        lambda c: c["spec"].update(
            group="example", scope="Global", names={"plural": "Foos", "kind": "Foo", "listKind": "Foo"}
        ),
        [
            (
                "FieldValueInvalid",
                "metadata.name",
                'Invalid value: "foos.example.com": must be spec.names.plural+"."+spec.group',
            ),
            (
                "FieldValueInvalid",
                "spec.group",
                'Invalid value: "example": should be a domain with at least one dot',
            ),
            (
                "FieldValueNotSupported",
                "spec.scope",
                'Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
            ),
            ("FieldValueInvalid", "spec.names.plural", f'Invalid value: "Foos": {DNS1035}'),
            (
                "FieldValueInvalid",
                "spec.names.listKind",
                'Invalid value: "Foo": kind and listKind may not be the same',
            ),
        ],
    ),
    (
        "no schema, no storage version",
        lambda c: _v0(c).update(storage=False, schema=None),
        [
            (
                "FieldValueRequired",
                "spec.versions[0].schema.openAPIV3Schema",
                "Required value: schemas are required",
            ),
            ("FieldValueInvalid", "spec.versions", "must have exactly one version marked as storage version"),
            (
                "FieldValueInvalid",
                "status.storedVersions",
                "Invalid value: []string(nil): must have at least one stored version",
            ),
        ],
    ),
    (
        "scale paths, printer columns, selectable fields",
        lambda c: _v0(c).update(
            subresources={"scale": {"specReplicasPath": ".status.r", "statusReplicasPath": "status.r"}},
            additionalPrinterColumns=[{"name": "A", "type": "int", "jsonPath": "spec.a"}],
            selectableFields=[{"jsonPath": ".spec.b"}, {"jsonPath": ".spec"}],
        ),
        [
            (
                "FieldValueInvalid",
                "spec.subresources.scale.specReplicasPath",
                'Invalid value: ".status.r": should be a json path under .spec',
            ),
            (
                "FieldValueInvalid",
                "spec.subresources.scale.statusReplicasPath",
                'Invalid value: "status.r": must be a simple json path starting with .',
            ),
            (
                "FieldValueInvalid",
                "spec.additionalPrinterColumns[0].type",
                'Invalid value: "int": must be one of boolean,date,integer,number,string',
            ),
            (
                "FieldValueInvalid",
                "spec.additionalPrinterColumns[0].JSONPath",
                'Invalid value: "spec.a": must be a simple json path starting with .',
            ),
            (
                "FieldValueInvalid",
                "spec.selectableFields[0].jsonPath",
                'Invalid value: ".spec.b": is an invalid path: does not refer to a valid field',
            ),
            (
                "FieldValueInvalid",
                "spec.selectableFields[1].jsonPath",
                'Invalid value: ".spec": must point to a field of type string, boolean or integer. Enum '
                "string fields and strings with formats are allowed.",
            ),
        ],
    ),
    (
        "a webhook conversion without client config",
        lambda c: c["spec"].update(conversion={"strategy": "Webhook"}),
        [
            (
                "FieldValueRequired",
                "spec.conversion.webhookClientConfig",
                "Required value: required when strategy is set to Webhook",
            ),
            ("FieldValueRequired", "spec.conversion.conversionReviewVersions", "Required value"),
        ],
    ),
    (
        "nullable at the root with the status subresource",
        lambda c: (
            _v0(c).update(subresources={"status": {}}),
            _v0(c)["schema"]["openAPIV3Schema"].update(nullable=True),
        ),
        [
            (
                "FieldValueInvalid",
                V,
                "fields are allowed at the root of the schema if the status subresource is enabled",
            ),
            ("FieldValueForbidden", f"{V}.nullable", "Forbidden: nullable cannot be true at the root"),
        ],
    ),
    (
        "a protected group without approval",
        lambda c: (c["spec"].update(group="x.k8s.io"), c["metadata"].update(name="foos.x.k8s.io")),
        [
            (
                "FieldValueRequired",
                "metadata.annotations[api-approved.kubernetes.io]",
                "Required value: protected groups must have approval annotation "
                '"api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111',
            )
        ],
    ),
    (
        "a second version with its own (bad) schema",
        lambda c: c["spec"]["versions"].append(
            {
                "name": "v2",
                "served": True,
                "storage": False,
                "schema": {"openAPIV3Schema": {"type": "string"}},
            }
        ),
        [
            (
                "FieldValueInvalid",
                "spec.versions[1].schema.openAPIV3Schema.type",
                'Invalid value: "string": must be object at the root',
            )
        ],
    ),
]


def _causes(body: dict[str, Any]) -> Causes:
    return [(c["reason"], c["field"], c["message"]) for c in body["details"]["causes"]]


def _matches(got: Causes, want: Causes) -> bool:
    """Every wanted cause in order; a wanted message that is not a full one must be contained."""
    return len(got) == len(want) and all(
        g[:2] == w[:2]
        and (g[2] == w[2] or (w[2] in g[2] and not w[2].startswith(("Required", 'Invalid value: "'))))
        for g, w in zip(got, want, strict=True)
    )


async def test_invalid_crds_are_refused_with_the_apiservers_causes(http: Http) -> None:
    for what, mutate, want in CASES:
        crd = _crd()
        mutate(crd)
        code, body = await http("POST", CRDS, crd)
        assert (code, body.get("reason")) == (422, "Invalid"), what
        assert body["details"]["kind"] == "CustomResourceDefinition", what
        assert body["details"]["group"] == "apiextensions.k8s.io", what
        assert _matches(_causes(body), want), (what, _causes(body))
        name = crd["metadata"]["name"]
        assert body["message"].startswith(
            f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: '
        ), what
        code, _ = await http("GET", f"{CRDS}/{name}")
        assert code == 404, what


async def test_a_created_crd_is_defaulted_and_its_status_reset(http: Http) -> None:
    crd = {**_crd(), "status": {"storedVersions": ["v0"], "acceptedNames": {"plural": "x", "kind": "X"}}}
    code, body = await http("POST", CRDS, crd)
    assert code == 201, body
    assert body["spec"]["names"] == {
        "plural": "foos",
        "kind": "Foo",
        "singular": "foo",
        "listKind": "FooList",
    }
    assert body["spec"]["conversion"] == {"strategy": "None"}
    assert body["status"] == {"storedVersions": ["v1"]}


async def test_updates_keep_names_and_stored_versions(http: Http) -> None:
    code, crd = await http("POST", CRDS, _crd())
    assert code == 201
    path = f"{CRDS}/foos.example.com"

    async def established() -> dict[str, Any]:
        _, got = await http("GET", path)
        assert any(
            c["type"] == "Established" and c["status"] == "True" for c in got["status"].get("conditions", [])
        )
        return got

    crd = await until(established)
    changed = copy.deepcopy(crd)
    changed["spec"].update(group="other.example.com", scope="Cluster")
    changed["spec"]["names"]["kind"] = "Bar"
    code, body = await http("PUT", path, changed)
    assert code == 422
    assert _causes(body) == [
        ("FieldValueInvalid", "spec.scope", 'Invalid value: "Cluster": field is immutable'),
        ("FieldValueInvalid", "spec.names.kind", 'Invalid value: "Bar": field is immutable'),
        ("FieldValueInvalid", "spec.group", 'Invalid value: "other.example.com": field is immutable'),
    ]

    # A new storage version is added to storedVersions; dropping a stored version from spec is refused
    # until status.storedVersions no longer lists it.
    v2 = copy.deepcopy(crd)
    v2["spec"]["versions"][0]["storage"] = False
    v2["spec"]["versions"].append({**copy.deepcopy(v2["spec"]["versions"][0]), "name": "v2", "storage": True})
    code, body = await http("PUT", path, v2)
    assert (code, body["status"]["storedVersions"]) == (200, ["v1", "v2"]), body
    only_v2 = copy.deepcopy(body)
    only_v2["spec"]["versions"] = only_v2["spec"]["versions"][1:]
    code, body = await http("PUT", path, only_v2)
    assert code == 422
    assert _causes(body) == [
        ("FieldValueInvalid", "status.storedVersions[0]", 'Invalid value: "v1": must appear in spec.versions')
    ]
    _, current = await http("GET", path)
    current["status"]["storedVersions"] = ["v2"]
    code, body = await http("PUT", path + "/status", current)
    assert (code, body["status"]["storedVersions"]) == (200, ["v2"])
    only_v2["metadata"]["resourceVersion"] = body["metadata"]["resourceVersion"]
    code, body = await http("PUT", path, only_v2)
    assert (code, [v["name"] for v in body["spec"]["versions"]]) == (200, ["v2"]), body
    # /status checks the accepted names.
    body["status"]["acceptedNames"]["plural"] = "Foos"
    code, body = await http("PUT", path + "/status", body)
    assert (code, _causes(body)[0][1]) == (422, "status.acceptedNames.plural")


def _official(kubeconfig: str, crd: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    api_client = kubernetes.config.new_client_from_config(config_file=kubeconfig)
    try:
        ext = kubernetes.client.ApiextensionsV1Api(api_client)
        with pytest.raises(kubernetes.client.ApiException) as err:
            ext.create_custom_resource_definition(crd)
        return err.value.status, json.loads(err.value.body)
    finally:
        api_client.close()


async def test_official_client_and_kubectl_see_the_422(
    kube_sim: cluster.KubeSim, kubectl: Kubectl, tmp_path: Path
) -> None:
    bad = _crd()
    _spec(bad).pop("type")
    code, body = await asyncio.to_thread(_official, kube_sim.kubeconfig, bad)
    assert (code, _causes(body)) == (422, CASES[0][2])
    res = await kubectl("apply", "-f", "-", stdin=json.dumps(bad), check=False)
    assert res.rc == 1
    assert (
        'The CustomResourceDefinition "foos.example.com" is invalid: '
        "spec.validation.openAPIV3Schema.properties[spec]"
        ".type: Required value: must not be empty for specified object fields"
    ) in res.err
    res = await kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(bad), check=False)
    assert (res.rc, "must not be empty for specified object fields" in res.err) == (1, True)
    # The operators' CRDs are valid: kubectl applies them (client- and server-side) with default flags.
    out = (await kubectl("apply", "-f", str(operators_cli.CRD_DIR))).out
    assert out.count("created") == 4, out
    out = (await kubectl("apply", "--server-side", "-f", str(operators_cli.CRD_DIR))).out
    assert out.count("serverside-applied") == 4, out
    res = await kubectl("get", "crd", "-o", "jsonpath={.items[*].status.storedVersions}")
    assert res.out.split() == ['["v1alpha1"]'] * 4


def test_name_checks_give_apimachinerys_reasons() -> None:
    assert fielderr.dns1123_label("ok-1") == []
    assert fielderr.dns1123_label("Bad_Name") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
        "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ]
    too_long = fielderr.dns1035_label("1" + "a" * 63)
    assert too_long[0] == "must be no more than 63 characters"
    assert too_long[1].startswith("a DNS-1035 label must consist of")
    assert fielderr.dns1123_subdomain("a." * 127 + "a")[0] == "must be no more than 253 characters"
