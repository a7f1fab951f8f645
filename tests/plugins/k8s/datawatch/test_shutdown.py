"""Stopping: the data watch of a cluster whose apiserver refuses connections stops within the budget,
including when the process stops while it is stopping one cluster's work (which once swallowed the
cancellation and left the manager running past its 10 s stop budget)."""

from __future__ import annotations

import asyncio
import logging
import pathlib
from typing import Any

import pytest
from aiohttp import test_utils

from bcs import app as app_mod
from bcs import config, keys
from bcs.core import registry
from bcs.plugins.k8s.datawatch import manager, sink
from bcs.plugins.k8s.datawatch import metrics as metrics_mod
from bcs.plugins.k8s.datawatch import settings as settings_mod
from bcs.testing import ADMIN_TOKEN
from tests.plugins.k8s.datawatch.test_ownership import sqlite_kv
from tests.services import eventually, free_port

BUDGET = 10.0  # seconds: the stop budget of background tasks (server.shutdown_timeout)
CLUSTER = "BCS-K8S-40001"


def _refused() -> str:
    """An apiserver address on loopback where nothing listens (connections are refused)."""
    return f"https://127.0.0.1:{free_port()}"


def _discovery_failures(metrics: metrics_mod.Metrics) -> float:
    labels = {"cluster": CLUSTER, "kind": "discovery"}
    return metrics.registry.get_sample_value("bcs_datawatch_errors_total", labels) or 0.0


class NoSink(sink.Sink):
    """Storage that is never reached (the cluster never answers)."""

    async def put(self, cluster_id: str, items: Any) -> None:
        raise AssertionError("nothing to write")

    async def delete(self, cluster_id: str, items: Any) -> None:
        raise AssertionError("nothing to delete")

    async def put_events(self, events: Any) -> None:
        raise AssertionError("no events")

    async def stored(self, cluster_id: str, resource_type: str) -> sink.StoredKeys:
        return {}

    async def stored_events(self, cluster_id: str, since: float) -> sink.StoredEvents:
        return set()


async def test_manager_stopped_while_stopping_a_cluster_stops(tmp_path: pathlib.Path) -> None:
    settings = settings_mod.DataWatchSettings(retry_base=0.1, retry_max=0.2)
    metrics = metrics_mod.Metrics()
    work = manager.cluster_work(target=NoSink(), settings=settings, metrics=metrics)
    ending, release = asyncio.Event(), asyncio.Event()

    async def run_cluster(cluster_id: str, credential: registry.Credential) -> None:
        try:
            await work(cluster_id, credential)  # the real data watch, failing against the refused port
        finally:
            ending.set()
            await release.wait()  # ends slowly: the manager is stopped while it waits for this

    async with sqlite_kv(tmp_path) as kv:
        clusters = registry.ClusterRegistry(kv, prefix="/bcs/")
        m = manager.Manager(
            kv=kv, clusters=clusters, prefix="/bcs/", identity="me", ttl=3, run_cluster=run_cluster
        )
        task = asyncio.create_task(m.run(), name="test.manager")
        try:
            await clusters.add_cluster(registry.Cluster(clusterID=CLUSTER))
            await clusters.put_credential(
                registry.Credential(serverKey=CLUSTER, clusterID=CLUSTER, serverAddress=_refused())
            )
            await eventually(lambda: _discovery_failures(metrics) >= 2, what="discovery failing (refused)")
            await clusters.delete_cluster(CLUSTER)  # the manager stops the cluster's work...
            await asyncio.wait_for(ending.wait(), BUDGET)
            task.cancel()  # ...and is stopped itself meanwhile
            release.set()
            done, _ = await asyncio.wait([task], timeout=BUDGET)
            assert task in done, "the manager did not stop within the budget"
            assert task.cancelled()
            assert not m.running
        finally:
            release.set()
            task.cancel()
            await asyncio.wait([task], timeout=BUDGET)
        assert await kv.range("/bcs/datawatch/") == []  # its ownership handed back


async def test_app_with_a_refusing_apiserver_stops_within_the_budget(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = {
        "server": {"data_dir": str(tmp_path / "data"), "port": 0, "tls": "off"},
        "auth": {"admin_token": ADMIN_TOKEN},
        "plugins": {"k8s": {"data_watch": {"retry_base": 0.1, "retry_max": 0.2}}},
        "clusters": [{"id": CLUSTER, "server": _refused(), "token": "t"}],
    }
    settings = config.BcsSettings.from_mapping(data, source="<test>", environ={})
    app = app_mod.create_app(settings)
    server = test_utils.TestServer(app)
    await server.start_server()
    try:
        backend: Any = app[keys.BACKENDS]["k8s"]
        await eventually(
            lambda: _discovery_failures(backend.metrics) >= 2, what="discovery failing (refused)"
        )
    finally:
        with caplog.at_level(logging.ERROR, logger="bcs.core.tasks"):
            await asyncio.wait_for(server.close(), BUDGET)
    hung = [r.getMessage() for r in caplog.records if "did not stop" in r.getMessage()]
    assert hung == []
