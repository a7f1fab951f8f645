"""The cluster registry on the KV port, run against both adapters (SQLite and the shared etcd)."""

from __future__ import annotations

import asyncio
import pathlib
import re

import attrs
import orjson
import pytest

from bcs import config, errors
from bcs.core import kv as kv_mod
from bcs.core import registry
from bcs.core.kv import sqlite as kv_sqlite
from tests import services


@pytest.fixture
def clusters(kv: kv_mod.KV, prefix: str) -> registry.ClusterRegistry:
    return registry.ClusterRegistry(kv, prefix=prefix)


def _k8s(number: int, **fields: str) -> registry.Cluster:
    return registry.Cluster(clusterID=f"BCS-K8S-{number}", clusterName=f"c{number}", **fields)


async def test_add_get_update_delete_cluster(clusters: registry.ClusterRegistry) -> None:
    added = await clusters.add_cluster(_k8s(40001, provider="bluekingCloud"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", added.createTime)
    assert added.updateTime >= added.createTime
    assert await clusters.get_cluster("BCS-K8S-40001") == added

    updated = await clusters.update_cluster("BCS-K8S-40001", {"clusterName": "renamed", "labels": {"a": "b"}})
    assert (updated.clusterName, updated.labels, updated.provider) == ("renamed", {"a": "b"}, "bluekingCloud")
    assert updated.createTime == added.createTime
    assert await clusters.get_cluster("BCS-K8S-40001") == updated

    assert await clusters.delete_cluster("BCS-K8S-40001") == updated
    with pytest.raises(errors.ClusterNotFound):
        await clusters.get_cluster("BCS-K8S-40001")


async def test_unknown_cluster_is_cluster_not_found(clusters: registry.ClusterRegistry) -> None:
    with pytest.raises(errors.ClusterNotFound):
        await clusters.get_cluster("BCS-K8S-49999")
    with pytest.raises(errors.ClusterNotFound):
        await clusters.update_cluster("BCS-K8S-49999", {"clusterName": "x"})
    with pytest.raises(errors.ClusterNotFound):
        await clusters.delete_cluster("BCS-K8S-49999")
    with pytest.raises(errors.ClusterNotFound):
        await clusters.put_credential(
            registry.Credential(serverKey="BCS-K8S-49999", clusterID="BCS-K8S-49999")
        )


async def test_bad_clusters_are_rejected(clusters: registry.ClusterRegistry) -> None:
    await clusters.add_cluster(_k8s(40001))
    with pytest.raises(errors.Conflict):
        await clusters.add_cluster(_k8s(40001))
    with pytest.raises(errors.BadRequest):
        registry.Cluster(clusterID="BCS-K8S-40001-x")
    with pytest.raises(errors.BadRequest):
        registry.Cluster(clusterID="BCS-K8S-40002", engineType="mesos")
    with pytest.raises(ValueError):
        registry.Cluster(clusterID="BCS-K8S-40002", environment="qa")
    with pytest.raises(errors.BadRequest):
        registry.Cluster.from_json({"clusterID": "BCS-K8S-40002", "environment": "qa"})
    with pytest.raises(errors.BadRequest):
        await clusters.update_cluster("BCS-K8S-40001", {"clusterID": "BCS-K8S-40009"})
    with pytest.raises(errors.BadRequest):
        await clusters.update_cluster("BCS-K8S-40001", {"environment": "qa"})
    with pytest.raises(errors.BadRequest):
        await clusters.update_cluster("BCS-K8S-40001", {"noSuchField": 1})


async def test_stored_json_uses_upstream_field_names(
    kv: kv_mod.KV, prefix: str, clusters: registry.ClusterRegistry
) -> None:
    await clusters.add_cluster(_k8s(40001, environment="prod"))
    raw = await kv.get(prefix + "clusters/BCS-K8S-40001")
    assert raw is not None
    data = orjson.loads(raw.value)
    assert data["clusterID"] == "BCS-K8S-40001"
    assert (data["engineType"], data["environment"], data["status"]) == ("k8s", "prod", "RUNNING")
    # Unknown fields written by a newer version are ignored on read.
    await kv.put(prefix + "clusters/BCS-K8S-40001", orjson.dumps({**data, "futureField": 1}))
    assert (await clusters.get_cluster("BCS-K8S-40001")).clusterName == "c40001"


async def test_list_clusters_with_filters(clusters: registry.ClusterRegistry) -> None:
    await clusters.add_cluster(_k8s(40002))
    await clusters.add_cluster(_k8s(15001, environment="stag"))
    await clusters.add_cluster(registry.Cluster(clusterID="BCS-MESOS-30001", engineType="mesos"))

    assert [c.clusterID for c in await clusters.list_clusters()] == [
        "BCS-K8S-15001",
        "BCS-K8S-40002",
        "BCS-MESOS-30001",
    ]
    assert [
        c.clusterID for c in await clusters.list_clusters({"engineType": "k8s", "environment": "prod"})
    ] == ["BCS-K8S-40002"]
    assert [c.clusterID for c in await clusters.list_clusters({"engineType": "mesos"})] == ["BCS-MESOS-30001"]
    assert await clusters.list_clusters({"clusterName": "nobody"}) == []
    with pytest.raises(errors.BadRequest):
        await clusters.list_clusters({"color": "red"})


async def test_credentials(clusters: registry.ClusterRegistry) -> None:
    await clusters.add_cluster(_k8s(40001))
    await clusters.add_cluster(registry.Cluster(clusterID="BCS-MESOS-30001", engineType="mesos"))
    direct = await clusters.put_credential(
        registry.Credential(
            serverKey="BCS-K8S-40001",
            clusterID="BCS-K8S-40001",
            serverAddress="https://127.0.0.1:6443,https://127.0.0.2:6443",
            caCertData="-----BEGIN CERTIFICATE-----",
            userToken="secret-token",
        )
    )
    assert direct.addresses == ["https://127.0.0.1:6443", "https://127.0.0.2:6443"]
    assert "secret-token" not in repr(direct)
    tunnel = await clusters.put_credential(
        registry.Credential(
            serverKey="BCS-MESOS-30001-127.0.0.9:8080",
            clusterID="BCS-MESOS-30001",
            serverAddress="https://127.0.0.9:8080",
            connectMode="tunnel",
            clientModule="mesosdriver",
        )
    )
    assert await clusters.get_credential("BCS-K8S-40001") == direct
    assert await clusters.list_credentials({"connectMode": "direct"}) == [direct]
    assert await clusters.list_credentials({"clusterID": "BCS-MESOS-30001"}) == [tunnel]

    # Replacing keeps the create time.
    again = await clusters.put_credential(attrs.evolve(direct, userToken="rotated", createTime=""))
    assert (again.userToken, again.createTime) == ("rotated", direct.createTime)

    await clusters.delete_credential("BCS-MESOS-30001-127.0.0.9:8080")
    with pytest.raises(errors.NotFound):
        await clusters.get_credential("BCS-MESOS-30001-127.0.0.9:8080")
    with pytest.raises(errors.NotFound):
        await clusters.delete_credential("BCS-MESOS-30001-127.0.0.9:8080")
    with pytest.raises(errors.BadRequest):
        registry.Credential(serverKey="a/b", clusterID="BCS-K8S-40001")


async def test_deleting_a_cluster_deletes_its_credentials(clusters: registry.ClusterRegistry) -> None:
    await clusters.add_cluster(_k8s(40001))
    await clusters.add_cluster(_k8s(40002))
    for key, cid in (
        ("BCS-K8S-40001", "BCS-K8S-40001"),
        ("BCS-K8S-40001-b", "BCS-K8S-40001"),
        ("BCS-K8S-40002", "BCS-K8S-40002"),
    ):
        await clusters.put_credential(registry.Credential(serverKey=key, clusterID=cid))
    await clusters.delete_cluster("BCS-K8S-40001")
    assert [c.serverKey for c in await clusters.list_credentials()] == ["BCS-K8S-40002"]


async def test_load_static_is_idempotent(
    kv: kv_mod.KV, clusters: registry.ClusterRegistry, tmp_path: pathlib.Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\nfrom-file\n")
    specs = [
        config.ClusterSpec(
            id="BCS-K8S-40010", server="https://127.1.0.1:6443", ca_file=str(ca_file), token="t1"
        ),
        config.ClusterSpec(
            id="BCS-MESOS-30010", engine="mesos", name="mesos one", server="http://127.1.0.2:8082"
        ),
    ]
    loaded = await clusters.load_static(specs)
    assert [(c.clusterID, c.clusterName, c.engineType) for c in loaded] == [
        ("BCS-K8S-40010", "BCS-K8S-40010", "k8s"),
        ("BCS-MESOS-30010", "mesos one", "mesos"),
    ]
    credential = await clusters.get_credential("BCS-K8S-40010")
    assert (credential.caCertData, credential.userToken, credential.serverAddress) == (
        "-----BEGIN CERTIFICATE-----\nfrom-file\n",
        "t1",
        "https://127.1.0.1:6443",
    )

    revision = await kv.revision()
    again = await clusters.load_static(specs)
    assert again == loaded
    if isinstance(kv, kv_sqlite.SqliteKV):
        assert await kv.revision() == revision  # nothing was rewritten (the shared etcd has other writers)
    assert await clusters.get_credential("BCS-K8S-40010") == credential

    # A changed config wins, and the create time stays.
    changed = [attrs.evolve(specs[0], name="renamed", token="t2"), specs[1]]
    reloaded = await clusters.load_static(changed)
    assert (reloaded[0].clusterName, reloaded[0].createTime) == ("renamed", loaded[0].createTime)
    assert (await clusters.get_credential("BCS-K8S-40010")).userToken == "t2"


async def test_load_static_reports_bad_specs(
    clusters: registry.ClusterRegistry, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(errors.ConfigError, match="ca_file"):
        await clusters.load_static(
            [config.ClusterSpec(id="BCS-K8S-40011", ca_file=str(tmp_path / "missing.pem"))]
        )
    with pytest.raises(errors.ConfigError, match="BCS-K8S-40012"):
        await clusters.load_static([config.ClusterSpec(id="BCS-K8S-40012", environment="qa")])
    with pytest.raises(errors.ConfigError, match="BCS-MESOS-1"):
        await clusters.load_static([config.ClusterSpec(id="BCS-MESOS-1", engine="k8s")])


@pytest.mark.parametrize(
    ("engine", "environment", "first"),
    [
        ("k8s", "prod", "BCS-K8S-40000"),
        ("k8s", "stag", "BCS-K8S-15001"),
        ("mesos", "stag", "BCS-MESOS-10000"),
    ],
)
async def test_allocate_starts_at_the_range_start(
    clusters: registry.ClusterRegistry, engine: str, environment: str, first: str
) -> None:
    assert await clusters.allocate_id(engine, environment) == first


async def test_allocate_follows_existing_clusters_and_never_reuses(
    clusters: registry.ClusterRegistry,
) -> None:
    await clusters.add_cluster(_k8s(40005))
    await clusters.add_cluster(_k8s(25001, environment="debug"))  # another range: no effect
    allocated = await clusters.allocate_id("k8s", "prod")
    assert allocated == "BCS-K8S-40006"
    await clusters.add_cluster(registry.Cluster(clusterID=allocated))
    await clusters.delete_cluster(allocated)
    await clusters.delete_cluster("BCS-K8S-40005")
    assert await clusters.allocate_id("k8s", "prod") == "BCS-K8S-40007"


async def test_allocate_rejects_unknown_ranges_and_exhaustion(clusters: registry.ClusterRegistry) -> None:
    with pytest.raises(errors.BadRequest):
        await clusters.allocate_id("k8s", "qa")
    await clusters.add_cluster(
        registry.Cluster(clusterID="BCS-MESOS-15000", engineType="mesos", environment="stag")
    )
    with pytest.raises(errors.Conflict, match="no cluster ids left"):
        await clusters.allocate_id("mesos", "stag")


async def test_concurrent_allocations_never_collide(kv: kv_mod.KV, prefix: str) -> None:
    # Two registries on one store, as two bcs processes on one etcd would be.
    first = registry.ClusterRegistry(kv, prefix=prefix)
    second = registry.ClusterRegistry(kv, prefix=prefix)
    ids = await asyncio.gather(*(r.allocate_id("k8s", "prod") for r in [first, second] * 10))
    assert len(set(ids)) == 20
    assert sorted(ids) == [f"BCS-K8S-{n}" for n in range(40000, 40020)]


async def test_watch_reports_changes_in_order(
    clusters: registry.ClusterRegistry, kv: kv_mod.KV, prefix: str
) -> None:
    start = await clusters.revision() + 1
    watch = services.Collector(clusters.watch(start_revision=start))
    try:
        await clusters.add_cluster(_k8s(40001))
        await clusters.allocate_id("k8s", "prod")  # an id mark: not a registry event
        await kv.put(prefix + "credentials-not/x", b"{}")  # shares the watched prefix: ignored
        await clusters.put_credential(
            registry.Credential(serverKey="BCS-K8S-40001", clusterID="BCS-K8S-40001")
        )
        await clusters.update_cluster("BCS-K8S-40001", {"status": "FAILURE"})
        await kv.put(prefix + "clusters/BCS-K8S-40009", b"not json")  # unreadable: skipped
        await clusters.delete_cluster("BCS-K8S-40001")
        events = await watch.wait_for(5)
    finally:
        await watch.close()
    assert [(e.kind, e.type, e.id) for e in events] == [
        ("cluster", "put", "BCS-K8S-40001"),
        ("credential", "put", "BCS-K8S-40001"),
        ("cluster", "put", "BCS-K8S-40001"),
        ("cluster", "delete", "BCS-K8S-40001"),
        ("credential", "delete", "BCS-K8S-40001"),
    ]
    assert events[2].cluster is not None
    assert events[2].cluster.status == "FAILURE"
    assert events[1].credential is not None
    assert events[3].cluster is None
    assert [e.revision for e in events] == sorted(e.revision for e in events)
    assert len(watch.events) == 5
