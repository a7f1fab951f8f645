"""The raw-JSON client against the simulator: CRUD, error mapping, patch types, connection modes."""

from __future__ import annotations

import pytest

from bcs import errors
from bcs.plugins.k8s.kube import client
from bcs.sim.kube import cluster

CONFIGMAPS = client.Resource("", "v1", "configmaps", "ConfigMap")


def test_resource_paths() -> None:
    assert CONFIGMAPS.path("ns", "x") == "/api/v1/namespaces/ns/configmaps/x"
    crd = client.Resource("tkex.tencent.com", "v1alpha1", "hookruns", "HookRun")
    assert crd.path("d", "r", "status") == "/apis/tkex.tencent.com/v1alpha1/namespaces/d/hookruns/r/status"
    assert crd.path() == "/apis/tkex.tencent.com/v1alpha1/hookruns"
    assert client.Resource("", "v1", "nodes", "Node", False).path("ignored", "n") == "/api/v1/nodes/n"


def test_watch_events_decode_what_either_decoder_reads() -> None:
    line = b'{"type": "ADDED", "object": {"metadata": {"name": "a"}, "data": {"n": 7, "s": "x"}}}'
    assert client._event(line) == {
        "type": "ADDED",
        "object": {"metadata": {"name": "a"}, "data": {"n": 7, "s": "x"}},
    }
    # orjson refuses a lone surrogate escape; the standard library keeps it as one code point.
    assert client._event(b'{"type": "ADDED", "object": {"s": "\\ud800"}}')["object"]["s"] == "\ud800"
    with pytest.raises(ValueError):
        client._event(b'{"type": ')


async def test_crud_and_errors(kube: client.KubeClient) -> None:
    created = await kube.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    with pytest.raises(errors.Conflict):
        await kube.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})
    with pytest.raises(errors.NotFound):
        await kube.get(CONFIGMAPS, "default", "missing")
    merged = await kube.patch(CONFIGMAPS, "default", "a", {"data": {"k": "2"}})
    assert merged["data"] == {"k": "2"}
    stale = {**created, "data": {"k": "3"}}
    with pytest.raises(errors.Conflict):
        await kube.replace(CONFIGMAPS, "default", "a", stale)  # created's resourceVersion is outdated
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {"x/y": "z"}}]
    patched = await kube.patch(CONFIGMAPS, "default", "a", ops, patch_type=client.JSON_PATCH)
    assert patched["metadata"]["annotations"] == {"x/y": "z"}
    applied = await kube.patch(
        CONFIGMAPS,
        "default",
        "b",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"v": "1"}},
        patch_type=client.APPLY_PATCH,
        field_manager="test",
    )
    assert applied["data"] == {"v": "1"}
    listed = await kube.list(CONFIGMAPS, "default", labelSelector="nothing=here")
    assert listed["items"] == []
    await kube.delete(CONFIGMAPS, "default", "a")
    with pytest.raises(errors.NotFound):
        await kube.get(CONFIGMAPS, "default", "a")


async def test_connect_with_server_ca_and_token(kube_sim: cluster.KubeSim) -> None:
    async with await client.connect(server=kube_sim.url, ca_pem=kube_sim.ca_pem, token=kube_sim.token) as k:
        ns = await k.get(client.Resource("", "v1", "namespaces", "Namespace", False), None, "default")
        assert ns["metadata"]["name"] == "default"
    async with await client.connect(server=kube_sim.url, ca_pem=kube_sim.ca_pem, token="wrong") as k:
        with pytest.raises(errors.Unauthorized):
            await k.get(CONFIGMAPS, "default", "x")


async def test_unreachable_server_is_backend_unavailable() -> None:
    async with await client.connect(server="http://127.0.0.1:1", timeout=2) as k:
        with pytest.raises(errors.BackendUnavailable):
            await k.list(CONFIGMAPS)
