"""The data watch inside ``bcs serve`` (``create_app``): a static ``[[clusters]]`` entry pointing at a
simulated cluster with a few hundred Pods is list+watched into storage, every change reaches a
consumer of the storage exchange on RabbitMQ, and the typed query API answers what a direct filter
of the simulator's objects gives. Then two processes share one private etcd: one writer at a time,
and the survivor takes the cluster over when its owner dies."""

from __future__ import annotations

import asyncio
import json
import pathlib
import time
import uuid
from typing import Any

import attrs
import pymongo

from bcs import app as app_mod
from bcs import config, keys
from bcs.sim.kube import cluster as sim_cluster
from bcs.testing import ADMIN_TOKEN
from tests.plugins.k8s.datawatch import helpers
from tests.plugins.k8s.datawatch.conftest import Consumer
from tests.services import eventually, start_etcd

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
QUERY = f"/bcsapi/v4/storage/query/k8s/dynamic/clusters/{helpers.CID}"


def _section(settings: Any) -> dict[str, Any]:
    """An attrs settings object as the TOML-shaped table ``bcs.config`` builds it from."""
    out: dict[str, Any] = {}
    for k, v in attrs.asdict(settings).items():
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


def serve_settings(
    data_dir: pathlib.Path, sim: sim_cluster.KubeSim, **sections: dict[str, Any]
) -> config.BcsSettings:
    watch = _section(helpers.fast_settings())
    data: dict[str, Any] = {
        "server": {"data_dir": str(data_dir), "port": 0, "tls": "off"},
        "auth": {"admin_token": ADMIN_TOKEN},
        "clusters": [
            {"id": helpers.CID, "server": sim.url, "ca_data": sim.ca_pem.decode(), "token": sim.token}
        ],
        "plugins": {"k8s": {"data_watch": watch}},
    }
    data.update(sections)
    return config.BcsSettings.from_mapping(data, source="<test>", environ={})


async def _names(client: Any, kind: str, **params: str) -> set[str]:
    resp = await client.get(f"{QUERY}/{kind}", params={"limit": "100000", **params})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["total"] == len(body["data"])
    return {d["resourceName"] for d in body["data"]}


def _sim_names(objs: list[dict[str, Any]], keep: Any = lambda o: True) -> set[str]:
    return {o["metadata"]["name"] for o in objs if keep(o)}


async def test_serve_stores_the_cluster_publishes_every_change_and_answers_typed_queries(
    tmp_path: pathlib.Path, aiohttp_client: Any, rabbit: tuple[dict[str, Any], Consumer]
) -> None:
    bus_section, consumer = rabbit
    async with sim_cluster.KubeSim(nodes=3, seed=11, tls=True, node_heartbeat_interval=1.0) as sim:
        for ns in ("ns-a", "ns-b"):
            helpers.make_namespace(sim, ns)
        for name, ns, replicas in (("web", "ns-a", 120), ("api", "ns-b", 120), ("batch", "ns-a", 60)):
            helpers.create(
                sim, "apps", "deployments", ns, helpers.deployment(name, replicas, labels={"tier": ns})
            )
        helpers.create(
            sim, "", "services", "ns-a", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
        )
        helpers.create(sim, "", "configmaps", "ns-b", {"metadata": {"name": "conf"}, "data": {"a": "1"}})

        settings = serve_settings(tmp_path / "data", sim, bus=bus_section)
        client = await aiohttp_client(app_mod.create_app(settings), headers=AUTH)
        service = client.app[keys.STORAGE]
        watch_settings = helpers.fast_settings()

        def running() -> bool:
            pods = helpers.objects(sim, "", "pods")
            return len(pods) == 300 and all((p.get("status") or {}).get("phase") == "Running" for p in pods)

        await eventually(running, timeout=60, what="300 running pods in the simulator")
        await eventually(
            lambda: helpers.converged(sim, service, watch_settings),
            timeout=60,
            what="storage equal to the cluster",
        )
        await eventually(lambda: helpers.outbox_empty(service), timeout=30, what="every change published")

        # Every Pod's last message is its current state; no change was published twice.
        pods = {o["metadata"]["name"]: o for o in helpers.objects(sim, "", "pods")}

        def last_versions() -> dict[str, str]:
            last: dict[str, str] = {}
            for m in consumer.received:
                last[m.headers["resourceName"]] = json.loads(m.body)["metadata"]["resourceVersion"]
            return last

        await eventually(
            lambda: all(last_versions().get(n) == p["metadata"]["resourceVersion"] for n, p in pods.items()),
            timeout=30,
            what="the latest version of every pod consumed",
        )
        seen = [
            (m.headers["resourceName"], json.loads(m.body)["metadata"]["resourceVersion"])
            for m in consumer.received
        ]
        assert len(seen) == len(set(seen)), "a pod version was published twice"
        assert len({m.message_id for m in consumer.received}) == len(consumer.received)
        first = consumer.received[0]
        assert first.headers["clusterId"] == helpers.CID
        assert first.headers["event"] == "update"
        assert first.headers["resourceType"] == "Pod"
        assert first.headers["namespace"] in ("ns-a", "ns-b")

        # Typed queries against a direct filter of the simulator's objects.
        all_pods = helpers.objects(sim, "", "pods")
        assert await _names(client, "pod", namespace="ns-a") == _sim_names(
            all_pods, lambda o: o["metadata"]["namespace"] == "ns-a"
        )
        assert await _names(client, "pod", labelSelector="app=api") == _sim_names(
            all_pods, lambda o: o["metadata"]["labels"].get("app") == "api"
        )
        host = all_pods[0]["status"]["hostIP"]
        assert await _names(client, "pod", hostIp=host, status="Running") == _sim_names(
            all_pods, lambda o: o["status"].get("hostIP") == host and o["status"].get("phase") == "Running"
        )
        assert await _names(client, "pod", labelSelector="tier in (ns-b),app!=web") == _sim_names(
            all_pods, lambda o: o["metadata"]["labels"].get("tier") == "ns-b"
        )
        deployments = helpers.objects(sim, "apps", "deployments")
        assert await _names(client, "deployment", namespace="ns-a") == {"web", "batch"}
        assert await _names(client, "deployment") == _sim_names(deployments)
        replicasets = helpers.objects(sim, "apps", "replicasets")
        assert await _names(client, "replicaset", namespace="ns-b") == _sim_names(
            replicasets, lambda o: o["metadata"]["namespace"] == "ns-b"
        )
        assert await _names(client, "node") == _sim_names(helpers.objects(sim, "", "nodes"))
        assert await _names(client, "namespace") == _sim_names(helpers.objects(sim, "", "namespaces"))
        assert await _names(client, "service", type="ClusterIP") == {"web"}  # default/kubernetes is filtered
        assert await _names(client, "configmap", namespace="ns-b") == _sim_names(
            helpers.objects(sim, "", "configmaps"), lambda o: o["metadata"]["namespace"] == "ns-b"
        )

        # Pods carry their workload; managedFields are gone.
        resp = await client.get(f"{QUERY}/pod", params={"labelSelector": "app=web", "limit": "1"})
        stored = (await resp.json())["data"][0]["data"]
        annotations = stored["metadata"]["annotations"]
        assert annotations["workload.bkbcs.tencent.com/kind"] == "Deployment"
        assert annotations["workload.bkbcs.tencent.com/name"] == "web"
        assert "managedFields" not in stored["metadata"]

        # Node heartbeats were seen and dropped.
        backend = client.app[keys.BACKENDS]["k8s"]
        await eventually(
            lambda: (
                backend.metrics.value(
                    "bcs_datawatch_dropped_total", cluster=helpers.CID, kind="Node", reason="heartbeat"
                )
                > 0
            ),
            timeout=10,
            what="a dropped heartbeat",
        )
        metrics_text = await (await client.get("/metrics")).text()
        assert 'bcs_datawatch_writes_total{action="put",cluster="BCS-K8S-40001",kind="Pod"}' in metrics_text
        assert "bcs_datawatch_queue_depth" in metrics_text
        await client.close()  # before the simulator goes away


async def test_two_processes_sharing_etcd_run_one_writer_and_take_over(
    tmp_path: pathlib.Path, aiohttp_client: Any, mongo_url: str
) -> None:
    etcd = await asyncio.to_thread(start_etcd, tmp_path)
    database = f"bcs_test_{uuid.uuid4().hex[:16]}"
    try:
        async with sim_cluster.KubeSim(nodes=1, seed=5, tls=True, node_heartbeat_interval=0) as sim:
            helpers.make_namespace(sim, "ns-a")
            helpers.create(sim, "apps", "deployments", "ns-a", helpers.deployment("web", 10))
            shared = {
                "kv": {"backend": "etcd", "endpoints": [etcd.url], "timeout": 2.0},
                "store": {"backend": "mongo", "url": mongo_url, "database": database, "timeout": 2.0},
            }
            apps = []
            for name in ("one", "two"):
                settings = serve_settings(tmp_path / name, sim, **shared)
                apps.append(await aiohttp_client(app_mod.create_app(settings), headers=AUTH))
            backends = [c.app[keys.BACKENDS]["k8s"] for c in apps]
            services = [c.app[keys.STORAGE] for c in apps]
            watch_settings = helpers.fast_settings()

            def owners() -> list[int]:
                return [i for i, b in enumerate(backends) if helpers.CID in b.manager.running]

            async def one_owner_for(seconds: float) -> list[int]:
                seen: set[int] = set()
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    now = owners()
                    assert len(now) <= 1, "two processes ran the cluster's watch at once"
                    seen.update(now)
                    await asyncio.sleep(0.05)
                return sorted(seen)

            await eventually(lambda: len(owners()) == 1, timeout=20, what="an owner for the cluster")
            await eventually(
                lambda: helpers.converged(sim, services[0], watch_settings), timeout=30, what="convergence"
            )
            (owner,) = owners()
            assert await one_owner_for(2.0) == [owner]

            def writes(i: int) -> float:
                return backends[i].metrics.value(
                    "bcs_datawatch_writes_total", cluster=helpers.CID, kind="Pod", action="put"
                )

            other = 1 - owner
            assert writes(owner) >= 10
            assert writes(other) == 0
            # The owner dies without handing anything back (its lease just stops being refreshed).
            dead = backends[owner].manager
            dead.ownership.release = _noop  # type: ignore[method-assign]
            died = time.monotonic()
            await apps[owner].close()
            await eventually(lambda: owners() == [other], timeout=10, what="the survivor taking over")
            assert time.monotonic() - died < 2 * 2 + 2  # the lease TTL is 2 s; allow the etcd minimum
            helpers.create(sim, "apps", "deployments", "ns-a", helpers.deployment("late", 5))
            await eventually(
                lambda: helpers.converged(sim, services[other], watch_settings),
                timeout=30,
                what="convergence",
            )
            assert writes(other) >= 5
            assert await one_owner_for(1.0) == [other]
            await apps[other].close()
    finally:
        await asyncio.to_thread(etcd.remove)
        mongo: pymongo.AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(mongo_url)
        try:
            await mongo.drop_database(database)
        finally:
            await mongo.close()


async def _noop() -> None:
    return None
