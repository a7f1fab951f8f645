"""Cluster ownership on the KV port (fair spread, hand-back, takeover after expiry) and the manager that
follows the cluster registry (start, restart on a new credential, stop on removal)."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator

from bcs.core import kv as kv_mod
from bcs.core import registry
from bcs.plugins.k8s.datawatch import manager, ownership
from tests.services import eventually, open_kv

CLUSTERS = [f"BCS-K8S-4000{i}" for i in range(1, 5)]


@contextlib.asynccontextmanager
async def sqlite_kv(tmp_path: pathlib.Path) -> AsyncIterator[kv_mod.KV]:
    async with open_kv("sqlite", tmp_path=tmp_path) as kv:
        yield kv


def owner(kv: kv_mod.KV, name: str, ttl: int = 5) -> ownership.Ownership:
    return ownership.Ownership(kv, prefix="/bcs/", identity=name, ttl=ttl)


async def test_clusters_spread_over_members_and_come_back_when_one_leaves(tmp_path: pathlib.Path) -> None:
    async with sqlite_kv(tmp_path) as kv:
        a, b = owner(kv, "a"), owner(kv, "b")
        assert await a.balance(CLUSTERS) == frozenset(CLUSTERS)  # alone: everything
        await b.keepalive()  # b joins
        assert len(await a.balance(CLUSTERS)) == 2  # a hands back what exceeds its share
        taken = await b.balance(CLUSTERS)
        assert len(taken) == 2
        assert taken | a.owned == frozenset(CLUSTERS)
        assert not taken & a.owned
        # A cluster removed from the registry is given up.
        assert CLUSTERS[3] not in await b.balance(CLUSTERS[:3])
        await a.release()
        assert await b.balance(CLUSTERS) == frozenset(CLUSTERS)


async def test_a_dead_owners_clusters_are_taken_once_its_lease_expires(tmp_path: pathlib.Path) -> None:
    async with sqlite_kv(tmp_path) as kv:
        a, b = owner(kv, "a", ttl=1), owner(kv, "b", ttl=1)
        await b.keepalive()
        await a.balance(CLUSTERS)
        mine_b = await b.balance(CLUSTERS)
        assert len(a.owned) == len(mine_b) == 2
        # a stops refreshing: its ownership stops being valid before the store expires the lease.
        await eventually(lambda: not a.valid, timeout=5, what="a's ownership going stale")

        async def b_has_all() -> bool:
            await b.keepalive()
            return await b.balance(CLUSTERS) == frozenset(CLUSTERS)

        await eventually(b_has_all, timeout=10, what="b taking a's clusters")


async def test_manager_follows_the_registry_and_credentials(tmp_path: pathlib.Path) -> None:
    async with sqlite_kv(tmp_path) as kv:
        clusters = registry.ClusterRegistry(kv, prefix="/bcs/")
        started: list[tuple[str, str]] = []
        cancelled: list[str] = []

        async def run_cluster(cluster_id: str, credential: registry.Credential) -> None:
            started.append((cluster_id, credential.serverAddress))
            try:
                await asyncio.Event().wait()
            finally:
                cancelled.append(cluster_id)

        m = manager.Manager(
            kv=kv, clusters=clusters, prefix="/bcs/", identity="me", ttl=3, run_cluster=run_cluster
        )
        task = asyncio.create_task(m.run(), name="test.manager")
        try:
            cid = CLUSTERS[0]
            await clusters.add_cluster(registry.Cluster(clusterID=cid))
            await clusters.add_cluster(registry.Cluster(clusterID="BCS-MESOS-30001", engineType="mesos"))
            await eventually(lambda: m.ownership.owned == {cid}, what="ownership of the k8s cluster")
            assert started == []  # no credential yet
            credential = registry.Credential(serverKey=cid, clusterID=cid, serverAddress="https://a:6443")
            await clusters.put_credential(credential)
            await eventually(lambda: started == [(cid, "https://a:6443")], what="its work starting")
            await clusters.put_credential(
                registry.Credential(serverKey=cid, clusterID=cid, serverAddress="https://b:6443")
            )
            await eventually(
                lambda: started[-1] == (cid, "https://b:6443"), what="a restart with the new credential"
            )
            assert cancelled == [cid]
            await clusters.delete_cluster(cid)
            await eventually(lambda: cancelled == [cid, cid] and not m.running, what="its work stopping")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert await kv.range("/bcs/datawatch/") == []  # everything handed back at shutdown
