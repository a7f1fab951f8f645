"""Protobuf request bodies: kubectl's generator subcommands, and hand-made wire bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bcs.sim.kube import cluster, tls
from tests.sim.kube.conftest import Http, Kubectl

PB = "application/vnd.kubernetes.protobuf"
CM = "/api/v1/namespaces/default/configmaps"
SVC = "/api/v1/namespaces/default/services"

# (resource path, `kubectl create` arguments with {n} for the name)
GENERATORS: list[tuple[str, list[str]]] = [
    (CM, ["configmap", "{n}", "--from-literal=a=b", "--from-literal=c=d"]),
    (CM, ["configmap", "{n}", "--from-file=blob={blob}", "--from-file=text={text}"]),
    ("/api/v1/namespaces/default/secrets", ["secret", "generic", "{n}", "--from-literal=user=admin"]),
    ("/api/v1/namespaces/default/secrets", ["secret", "tls", "{n}", "--cert={crt}", "--key={key}"]),
    (
        "/api/v1/namespaces/default/secrets",
        [
            "secret",
            "docker-registry",
            "{n}",
            "--docker-server=r.io",
            "--docker-username=u",
            "--docker-password=p",
        ],
    ),
    (
        "/apis/apps/v1/namespaces/default/deployments",
        ["deployment", "{n}", "--image=nginx:1.25", "--replicas=0", "--port=80"],
    ),
    (
        "/apis/apps/v1/namespaces/default/deployments",
        ["deployment", "{n}", "--image=nginx", "--image=busybox:1.36", "--replicas=2"],
    ),
    ("/api/v1/namespaces", ["namespace", "{n}"]),
    (SVC, ["service", "clusterip", "{n}", "--tcp=5678:8080", "--tcp=53:53"]),
    (SVC, ["service", "clusterip", "{n}", "--clusterip=None"]),
    (SVC, ["service", "nodeport", "{n}", "--tcp=80:8080"]),
    (SVC, ["service", "loadbalancer", "{n}", "--tcp=443:8443"]),
    (SVC, ["service", "externalname", "{n}", "--external-name=a.example"]),
    ("/api/v1/namespaces/default/serviceaccounts", ["serviceaccount", "{n}"]),
]
_VOLATILE_META = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "annotations")


def _no_empty(x: Any) -> Any:
    """Without nulls and empty objects: Go renders zero structs so, however they were sent."""
    if isinstance(x, dict):
        out = {k: _no_empty(v) for k, v in x.items()}
        return {k: v for k, v in out.items() if v is not None and v != {}}
    if isinstance(x, list):
        return [_no_empty(v) for v in x]
    return x


def _comparable(obj: dict[str, Any], name: str) -> Any:
    """The object as its creator decided it: server-assigned and controller-written parts removed."""
    obj = _no_empty(json.loads(json.dumps(obj).replace(name, "NAME")))
    for key in _VOLATILE_META:
        obj["metadata"].pop(key, None)
    obj.pop("status", None)
    spec = obj.get("spec") or {}
    for key in ("clusterIP", "clusterIPs"):
        spec.pop(key, None)
    for port in spec.get("ports") or []:
        port.pop("nodePort", None)
    return obj


async def test_generators_send_protobuf_that_decodes_like_their_json(
    kube_sim: cluster.KubeSim, kubectl: Kubectl, http: Http, tmp_path: Path
) -> None:
    certs = tls.make_certs(("127.0.0.1",))
    files = {
        "crt": tmp_path / "tls.crt",
        "key": tmp_path / "tls.key",
        "blob": tmp_path / "blob",
        "text": tmp_path / "text",
    }
    files["crt"].write_bytes(certs.cert_pem)
    files["key"].write_bytes(certs.key_pem)
    files["blob"].write_bytes(bytes(range(256)))
    files["text"].write_text("héllo\n")
    for i, (path, template) in enumerate(GENERATORS):
        via_pb, via_json = f"gen{i}-pb", f"gen{i}-js"
        args = [a.format(n=via_pb, **files) for a in template]
        assert "created" in (await kubectl("create", *args)).out
        args = [a.format(n=via_json, **files) for a in template]
        manifest = json.loads((await kubectl("create", *args, "--dry-run=client", "-o", "json")).out)
        code, body = await http("POST", path + "?fieldValidation=Strict", manifest)
        assert code == 201, body
        item = path.rsplit("/", 1)[1]
        prefix = path if item != "namespaces" else "/api/v1/namespaces"
        _, from_pb = await http("GET", f"{prefix}/{via_pb}")
        _, from_json = await http("GET", f"{prefix}/{via_json}")
        assert _comparable(from_pb, via_pb) == _comparable(from_json, via_json), template
    _, deploy = await http("GET", "/apis/apps/v1/namespaces/default/deployments/gen5-pb")
    assert deploy["spec"]["replicas"] == 0  # a pointer field's explicit zero survives
    _, cm = await http("GET", f"{CM}/gen1-pb")
    assert set(cm["binaryData"]) == {"blob"}
    assert cm["data"] == {"text": "héllo\n"}


# --- hand-made bytes -----------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _field(1, api_version) + _field(2, kind)
    return b"k8s\x00" + _field(1, type_meta) + _field(2, raw) + _field(4, PB)


async def test_handmade_protobuf_bodies(http: Http) -> None:
    meta = _field(1, "hand") + _field(11, _field(1, "tier") + _field(2, "db"))
    cm = (
        _field(1, meta)
        + _field(2, _field(1, "k") + _field(2, "v"))
        + _field(4, 0)  # immutable: an explicit false on a pointer field
        + _field(99, "a field from a newer version")  # skipped, as generated decoders do
    )
    code, body = await http("POST", CM, _envelope("v1", "ConfigMap", cm), ctype=PB)
    assert code == 201, body
    assert body["data"] == {"k": "v"}
    assert body["immutable"] is False
    assert body["metadata"]["labels"] == {"tier": "db"}

    # A pod with a packed repeated int64 (supplementalGroups) and an int-or-string port.
    container = (
        _field(1, "c")
        + _field(2, "busybox")
        + _field(10, _field(1, _field(2, _field(2, _field(1, 1) + _field(3, "http")))))
    )
    security = _field(4, _varint(5) + _varint(7))
    pod = _field(1, _field(1, "pb-pod")) + _field(2, _field(2, container) + _field(14, security))
    code, body = await http("POST", "/api/v1/namespaces/default/pods", _envelope("v1", "Pod", pod), ctype=PB)
    assert code == 201, body
    assert body["spec"]["securityContext"]["supplementalGroups"] == [5, 7]
    probe = body["spec"]["containers"][0]["livenessProbe"]
    assert probe["httpGet"]["port"] == "http"

    # Malformed, unmarked, wrongly typed and custom-resource bodies are refused, changing nothing.
    code, body = await http("POST", CM, _envelope("v1", "ConfigMap", cm)[:-40], ctype=PB)
    assert code == 400
    assert body["reason"] == "BadRequest"
    code, body = await http("POST", CM, _envelope("v1", "ConfigMap", cm[:-3]), ctype=PB)
    assert (code, body["message"]) == (
        400,
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: unexpected EOF',
    )
    code, body = await http("POST", CM, b'{"metadata":{"name":"x"}}', ctype=PB)
    assert code == 400
    assert "expected prefix [107 56 115 0]" in body["message"]
    wrong = _field(1, _field(1, "wrong")) + _field(4, "not-a-bool")
    code, body = await http("POST", CM, _envelope("v1", "ConfigMap", wrong), ctype=PB)
    assert code == 400
    assert "proto: wrong wireType = 2 for field Immutable" in body["message"]
    code, body = await http("POST", CM, _envelope("v1", "Widget", cm), ctype=PB)
    assert code == 400
    assert 'no kind "Widget" is registered' in body["message"]
    code, body = await http("POST", CM, b"{}", ctype="text/plain")
    assert code == 415
    _, listed = await http("GET", CM)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["hand", "kube-root-ca.crt"]


@pytest.mark.parametrize("dry_run", [False, True])
async def test_kubectl_create_deployment_runs(
    kube_sim: cluster.KubeSim, kubectl: Kubectl, http: Http, dry_run: bool
) -> None:
    flags = ["--dry-run=server", "-o", "json"] if dry_run else []
    args = ("deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=8080")
    res = await kubectl("create", *args, *flags)
    if dry_run:
        assert json.loads(res.out)["spec"]["template"]["spec"]["containers"][0]["ports"] == [
            {"containerPort": 8080, "protocol": "TCP"}
        ]
        code, _ = await http("GET", "/apis/apps/v1/namespaces/default/deployments/web")
        assert code == 404
        return
    res = await kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    assert 'deployment "web" successfully rolled out' in res.out
    res = await kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.containers[0].image}")
    assert res.out.split() == ["nginx:1.25", "nginx:1.25"]
