"""The official ``kubernetes`` and ``kubernetes_asyncio`` clients: list, page, watch, resume, 410."""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes
import pytest
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio import config as aconfig
from kubernetes_asyncio import watch as awatch

from bcs.sim.kube import cluster


def _configmaps(sim: cluster.KubeSim, n: int, prefix: str = "cm") -> None:
    rt = sim.cluster.registry.builtin("", "configmaps")
    for i in range(n):
        sim.cluster.api.create(
            rt,
            "default",
            {"metadata": {"name": f"{prefix}-{i:02d}", "labels": {"set": prefix}}, "data": {"i": str(i)}},
        )


def _sync_paging_and_watch(kubeconfig: str) -> tuple[list[str], int, list[tuple[str, str]]]:
    api_client = kubernetes.config.new_client_from_config(config_file=kubeconfig)
    try:
        core = kubernetes.client.CoreV1Api(api_client)
        names: list[str] = []
        pages = 0
        cont = None
        while True:
            page = core.list_namespaced_config_map(
                "default", label_selector="set=cm", limit=4, _continue=cont
            )
            pages += 1
            names += [i.metadata.name for i in page.items]
            cont = page.metadata._continue
            if not cont:
                break
        rv = page.metadata.resource_version
        core.patch_namespaced_config_map("cm-03", "default", {"data": {"i": "changed"}})
        core.delete_namespaced_config_map("cm-04", "default")
        w = kubernetes.watch.Watch()
        events = []
        for ev in w.stream(
            core.list_namespaced_config_map,
            "default",
            label_selector="set=cm",
            resource_version=rv,
            timeout_seconds=1,
        ):
            events.append((ev["type"], ev["object"].metadata.name))
        return names, pages, events
    finally:
        api_client.close()


async def test_sync_client_pages_and_resumes_watch(kube_sim: cluster.KubeSim) -> None:
    _configmaps(kube_sim, 10)
    names, pages, events = await asyncio.to_thread(_sync_paging_and_watch, kube_sim.kubeconfig)
    assert names == [f"cm-{i:02d}" for i in range(10)]
    assert pages == 3
    assert events == [("MODIFIED", "cm-03"), ("DELETED", "cm-04")]


async def _drain(stream: Any) -> list[Any]:
    return [ev async for ev in stream]


async def _client(sim: cluster.KubeSim) -> aclient.ApiClient:
    cfg = aclient.Configuration()
    await aconfig.load_kube_config(config_file=sim.kubeconfig, client_configuration=cfg)
    return aclient.ApiClient(configuration=cfg)


async def test_async_client_watch_bookmarks_and_expiry(kube_sim: cluster.KubeSim) -> None:
    async with await _client(kube_sim) as api_client:
        core = aclient.CoreV1Api(api_client)
        _configmaps(kube_sim, 3)
        listed = await core.list_namespaced_config_map("default", label_selector="set=cm")
        rv = listed.metadata.resource_version
        await core.create_namespaced_config_map(
            "default", {"metadata": {"name": "late", "labels": {"set": "cm"}}}
        )
        seen = []
        async with awatch.Watch() as w:
            async for ev in w.stream(
                core.list_namespaced_config_map,
                "default",
                label_selector="set=cm",
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=2,
            ):
                seen.append(ev["type"])
        assert seen[0] == "ADDED"
        assert "BOOKMARK" in seen

        # History beyond the window is compacted: an old resourceVersion gets 410 Expired.
        kube_sim.cluster.store.history_max = 3
        _configmaps(kube_sim, 6, prefix="more")
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=2
        )
        with pytest.raises(aclient.ApiException) as err:
            await _drain(stream)
        assert err.value.status == 410
        # Relist, then watch from the fresh resourceVersion.
        fresh = await core.list_namespaced_config_map("default")
        assert len(fresh.items) == 10 + 1  # 4 + 6 created here, plus kube-root-ca.crt
        got = []
        async with awatch.Watch() as w:
            stream = w.stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=fresh.metadata.resource_version,
                timeout_seconds=2,
            )
            await core.delete_namespaced_config_map("late", "default")
            async for ev in stream:
                got.append((ev["type"], ev["object"].metadata.name))
        assert got == [("DELETED", "late")]


async def test_async_client_initial_events_and_apps(kube_sim: cluster.KubeSim) -> None:
    async with await _client(kube_sim) as api_client:
        apps = aclient.AppsV1Api(api_client)
        body = {
            "metadata": {"name": "api"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
                },
            },
        }
        created = await apps.create_namespaced_deployment("default", body)
        assert created.metadata.generation == 1
        with pytest.raises(aclient.ApiException) as err:
            await apps.create_namespaced_deployment("default", body)
        assert err.value.status == 409
        assert '"AlreadyExists"' in err.value.body
        stale = created.metadata.resource_version
        await apps.patch_namespaced_deployment("api", "default", {"spec": {"replicas": 3}})
        created.metadata.resource_version = stale
        with pytest.raises(aclient.ApiException) as err:
            await apps.replace_namespaced_deployment("api", "default", created)
        assert err.value.status == 409
        assert "the object has been modified" in err.value.body
        # sendInitialEvents: the current state, then the initial-events-end bookmark.
        types = []
        async with awatch.Watch() as w:
            async for ev in w.stream(
                apps.list_namespaced_deployment,
                "default",
                send_initial_events=True,
                resource_version_match="NotOlderThan",
                allow_watch_bookmarks=True,
                timeout_seconds=1,
            ):
                types.append(ev["type"])
                if ev["type"] == "BOOKMARK":
                    assert ev["raw_object"]["metadata"]["annotations"] == {
                        "k8s.io/initial-events-end": "true"
                    }
                    break
        assert types == ["ADDED", "BOOKMARK"]
