"""Manifests and pod queries for the game-workload scenarios."""

from __future__ import annotations

from typing import Any

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.gamedeployment import model
from bcs.plugins.k8s.operators.gamestatefulset import model as gsts_model
from bcs.plugins.k8s.operators.hook import model as hook_model
from bcs.plugins.k8s.operators.workload import controller as wl_controller
from bcs.plugins.k8s.operators.workload import pods as podutil

NS = "default"


def game_deployment(
    name: str,
    replicas: int,
    *,
    strategy: dict[str, Any] | None = None,
    images: tuple[str, ...] = ("game:v1",),
    **spec: Any,
) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return {
        "apiVersion": "tkex.tencent.com/v1alpha1",
        "kind": "GameDeployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
            "updateStrategy": strategy or {},
            **spec,
        },
    }


def game_statefulset(
    name: str,
    replicas: int,
    *,
    strategy: dict[str, Any] | None = None,
    images: tuple[str, ...] = ("game:v1",),
    **spec: Any,
) -> dict[str, Any]:
    body = game_deployment(name, replicas, strategy=strategy, images=images, **spec)
    body["kind"] = "GameStatefulSet"
    return body


async def hook_template(kube: client.KubeClient, name: str, url: str, **metric: Any) -> None:
    """Create HookTemplate ``name``: one web metric ``check`` on ``url``, successful when ``$.ok`` is
    true, with ``metric`` fields added or replaced."""
    check = {
        "name": "check",
        "successCondition": 'result == "true"',
        "provider": {"web": {"url": url, "jsonPath": "{$.ok}"}},
    }
    body = {"metadata": {"name": name}, "spec": {"metrics": [{**check, **metric}]}}
    await kube.create(hook_model.HOOKTEMPLATES, NS, body)


async def gsts(kube: client.KubeClient, name: str) -> dict[str, Any]:
    return await kube.get(gsts_model.GAMESTATEFULSETS, NS, name)


def by_name(pods: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in pods}


def restart_counts(pod: dict[str, Any]) -> dict[str, int]:
    return {cs["name"]: cs["restartCount"] for cs in (pod.get("status") or {}).get("containerStatuses") or []}


async def pods_of(kube: client.KubeClient, app: str) -> list[dict[str, Any]]:
    items = (await kube.list(wl_controller.PODS, NS, labelSelector=f"app={app}")).get("items") or []
    return [p for p in items if not podutil.is_terminating(p)]


def images(pod: dict[str, Any]) -> list[str]:
    return [c["image"] for c in pod["spec"]["containers"]]


async def gd(kube: client.KubeClient, name: str) -> dict[str, Any]:
    return await kube.get(model.GAMEDEPLOYMENTS, NS, name)


async def set_image(kube: client.KubeClient, name: str, *images_: str) -> None:
    ops = [
        {"op": "replace", "path": f"/spec/template/spec/containers/{i}/image", "value": image}
        for i, image in enumerate(images_)
    ]
    await kube.patch(model.GAMEDEPLOYMENTS, NS, name, ops, patch_type=client.JSON_PATCH)


def all_ready(pods: list[dict[str, Any]], n: int, image: str | None = None) -> bool:
    if len(pods) != n or not all(podutil.is_ready(p) for p in pods):
        return False
    return image is None or all(images(p)[0] == image for p in pods)


async def set_image_of(kube: client.KubeClient, resource: client.Resource, name: str, image: str) -> None:
    ops = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}]
    await kube.patch(resource, NS, name, ops, patch_type=client.JSON_PATCH)
