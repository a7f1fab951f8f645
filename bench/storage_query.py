"""Query: stored Pods across clusters, read through the storage HTTP API, next to the same query
made directly with the driver on the same data, in the same run.

    python bench/storage_query.py [--pods 200000] [--clusters 20] [--queries 200] [--stores sqlite,mongo]

Queries (each ``--queries`` times at most and within ``--budget`` seconds, on random clusters,
namespaces and pages), over HTTP on loopback: a namespace list page
(``GET .../namespace_resources/clusters/{c}/namespaces/{ns}/Pod?limit=100&offset=k``) and a label
selector (``GET .../query/k8s/dynamic/clusters/{c}/pod?labelSelector=app=app-N&limit=100``); the
direct ones are ``pymongo`` ``find`` (mongo) or ``sqlite3`` over the store's own file, its JSON paths
and its feature index (sqlite). Prints p50/p99 latency (ms) and the ratio of the p50s.

Data: ``--pods`` Pods over ``--clusters`` clusters, 20 namespaces each, labels ``app-0..99``. The
store's own ``upsert_many`` loads the first batch (creating its indexes); the rest goes in with the
driver for speed, in the document shape the store writes. ``BCS_TEST_MONGO`` names the MongoDB-wire
server (mongo is skipped without it); everything is on 127.0.0.1 and every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import pathlib
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pymongo
from aiohttp import web

from bcs import config
from bcs.core import bus as bus_port
from bcs.storage import http as storage_http
from bcs.storage.store import port

__all__ = ["main"]

NAMESPACES = 20
APPS = 100
PAGE = 100
BATCH = 2000
PREFIX = "/bcsapi/v4/storage"


def _cluster(i: int) -> str:
    return f"BCS-K8S-{41000 + i}"


def _pod(i: int, clusters: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(key, data) of Pod ``i``."""
    c = i % clusters
    ns = f"ns-{(i // clusters) % NAMESPACES}"
    name = f"pod-{i}"
    key = {"clusterId": _cluster(c), "namespace": ns, "resourceType": "Pod", "resourceName": name}
    data = {
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app": f"app-{(i // clusters) % APPS}", "shard": str(i % 7)},
        },
        "spec": {
            "nodeName": f"node-{i % 50}",
            "containers": [{"name": "main", "image": f"img-{i % APPS}:1"}],
        },
        "status": {"phase": "Running", "podIP": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"},
    }
    return key, data


async def load(store: port.Store, kind: str, pods: int, clusters: int, *, mongo: str, database: str) -> float:
    """Store ``pods`` Pods; return the seconds it took."""
    start = time.perf_counter()
    first = [port.Upsert(*_pod(i, clusters)) for i in range(min(BATCH, pods))]
    await store.upsert_many("Pod", first)  # the store creates its indexes
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    if kind == "mongo":
        with pymongo.MongoClient(mongo) as mc:
            coll = mc[database]["Pod"]
            for lo in range(BATCH, pods, BATCH):
                docs = []
                for i in range(lo, min(lo + BATCH, pods)):
                    key, data = _pod(i, clusters)
                    docs.append(
                        {
                            **key,
                            "data": data,
                            "createTime": now,
                            "updateTime": now,
                            "_isBcsObjectDeleted": False,
                        }
                    )
                await asyncio.to_thread(coll.insert_many, docs, ordered=False)
    else:
        for lo in range(BATCH, pods, BATCH):
            items = [port.Upsert(*_pod(i, clusters)) for i in range(lo, min(lo + BATCH, pods))]
            await store.upsert_many("Pod", items)
    return time.perf_counter() - start


async def _measure(n: int, budget: float, call: Callable[[random.Random], Awaitable[int]]) -> list[float]:
    """Latencies of up to ``n`` calls, stopping early once ``budget`` seconds are spent."""
    rng = random.Random(5)
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < n and (len(times) < 5 or time.perf_counter() < deadline):
        start = time.perf_counter()
        rows = await call(rng)
        times.append(time.perf_counter() - start)
        assert rows > 0, "a benchmark query found nothing"
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _feature(name: str) -> str:
    # The expression the store's feature index is built on, so that SQLite can use that index.
    return f"ifnull(json_extract(doc, '$.\"{name}\"'), x'00')"


class Direct:
    """The same queries, straight to the database."""

    def __init__(self, kind: str, *, mongo: str, database: str, sqlite_file: pathlib.Path) -> None:
        self.kind = kind
        if kind == "mongo":
            self.client: Any = pymongo.AsyncMongoClient(mongo)
            self.coll = self.client[database]["Pod"]
        else:
            self.conn = sqlite3.connect(sqlite_file, check_same_thread=False)
            (cid,) = self.conn.execute("SELECT id FROM bcs_collections WHERE name = 'Pod'").fetchone()
            self.table = f"c{cid}"

    async def close(self) -> None:
        if self.kind == "mongo":
            await self.client.close()
        else:
            self.conn.close()

    async def namespace_page(self, cluster: str, ns: str, offset: int) -> int:
        if self.kind == "mongo":
            where = {"clusterId": cluster, "namespace": ns, "_isBcsObjectDeleted": {"$ne": True}}
            return len(await self.coll.find(where, {"_id": 0}).skip(offset).limit(PAGE).to_list())
        sql = (
            f"SELECT doc FROM {self.table} WHERE {_feature('clusterId')} = ? AND {_feature('namespace')} = ? "
            "AND json_extract(doc, '$.\"_isBcsObjectDeleted\"') IS NOT 1 ORDER BY id LIMIT ? OFFSET ?"
        )
        rows = await asyncio.to_thread(lambda: self.conn.execute(sql, (cluster, ns, PAGE, offset)).fetchall())
        return len([orjson.loads(r[0]) for r in rows])

    async def label(self, cluster: str, app: str) -> int:
        if self.kind == "mongo":
            where = {
                "clusterId": cluster,
                "data.metadata.labels.app": app,
                "_isBcsObjectDeleted": {"$ne": True},
            }
            return len(await self.coll.find(where, {"_id": 0}).limit(PAGE).to_list())
        sql = (
            f"SELECT doc FROM {self.table} WHERE {_feature('clusterId')} = ? "
            'AND json_extract(doc, \'$."data"."metadata"."labels"."app"\') = ? '
            "AND json_extract(doc, '$.\"_isBcsObjectDeleted\"') IS NOT 1 ORDER BY id LIMIT ?"
        )
        rows = await asyncio.to_thread(lambda: self.conn.execute(sql, (cluster, app, PAGE)).fetchall())
        return len([orjson.loads(r[0]) for r in rows])


async def bench_store(
    kind: str, args: argparse.Namespace, mongo: str
) -> list[tuple[str, str, list[float], list[float]]]:
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="bcs-bench-query-"))
    database = f"bench_query_{uuid.uuid4().hex[:8]}"
    store_settings = (
        config.StoreSettings(backend="mongo", url=mongo, database=database, timeout=30.0)
        if kind == "mongo"
        else config.StoreSettings()
    )
    store = port.open_store(store_settings, data_dir=data_dir)
    bus = bus_port.open_bus(config.BusSettings())
    await store.start()
    await bus.start()
    app = web.Application()
    storage_http.setup(app, store=store, bus=bus, settings=config.BcsSettings())
    runner = web.AppRunner(app, access_log=None)
    direct: Direct | None = None
    try:
        seconds = await load(store, kind, args.pods, args.clusters, mongo=mongo, database=database)
        print(f"{kind}: loaded {args.pods} pods in {seconds:.1f}s ({args.pods / seconds:.0f}/s)", flush=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}{PREFIX}"
        direct = Direct(kind, mongo=mongo, database=database, sqlite_file=data_dir / "store.sqlite3")
        per_ns = args.pods // (args.clusters * NAMESPACES)
        pages = max(1, per_ns // PAGE)

        async with aiohttp.ClientSession() as http:

            async def get(path: str, params: dict[str, str]) -> int:
                async with http.get(base + path, params=params) as resp:
                    body = await resp.json()
                    assert resp.status == 200, body
                    return len(body["data"])

            def pick(rng: random.Random) -> tuple[str, str, int, str]:
                return (
                    _cluster(rng.randrange(args.clusters)),
                    f"ns-{rng.randrange(NAMESPACES)}",
                    rng.randrange(pages) * PAGE,
                    f"app-{rng.randrange(APPS)}",
                )

            async def http_page(rng: random.Random) -> int:
                c, ns, off, _ = pick(rng)
                path = f"/k8s/dynamic/namespace_resources/clusters/{c}/namespaces/{ns}/Pod"
                return await get(path, {"limit": str(PAGE), "offset": str(off)})

            async def http_label(rng: random.Random) -> int:
                c, _, _, app_label = pick(rng)
                return await get(
                    f"/query/k8s/dynamic/clusters/{c}/pod",
                    {"labelSelector": f"app={app_label}", "limit": str(PAGE)},
                )

            async def direct_page(rng: random.Random) -> int:
                c, ns, off, _ = pick(rng)
                return await direct.namespace_page(c, ns, off)  # type: ignore[union-attr]

            async def direct_label(rng: random.Random) -> int:
                c, _, _, app_label = pick(rng)
                return await direct.label(c, app_label)  # type: ignore[union-attr]

            n, budget = args.queries, args.budget
            return [
                (
                    kind,
                    "namespace page",
                    await _measure(n, budget, http_page),
                    await _measure(n, budget, direct_page),
                ),
                (
                    kind,
                    "label selector",
                    await _measure(n, budget, http_label),
                    await _measure(n, budget, direct_label),
                ),
            ]
    finally:
        if direct is not None:
            await direct.close()
        await runner.cleanup()
        await bus.close()
        await store.close()
        if kind == "mongo":
            with pymongo.MongoClient(mongo) as mc:
                mc.drop_database(database)


async def run(args: argparse.Namespace) -> None:
    mongo = os.environ.get("BCS_TEST_MONGO", "")
    results = []
    for kind in [s for s in args.stores.split(",") if s]:
        if kind == "mongo" and not mongo:
            print("mongo: skipped (BCS_TEST_MONGO is not set)")
            continue
        results += await bench_store(kind, args, mongo)
    print()
    print(f"{args.pods} pods, {args.clusters} clusters x {NAMESPACES} namespaces")
    heads = ("bcs p50", "bcs p99", "direct p50", "direct p99", "p50 ratio")
    print(f"{'store':<7} {'query':<15} " + " ".join(f"{h:>11}" for h in heads))
    for kind, what, bcs, raw in results:
        counts = f"{len(bcs)}/{len(raw)} queries"
        b50, b99, d50, d99 = (_pct(bcs, 0.5), _pct(bcs, 0.99), _pct(raw, 0.5), _pct(raw, 0.99))
        print(
            f"{kind:<7} {what:<15} {b50 * 1000:>11.1f} {b99 * 1000:>11.1f} {d50 * 1000:>11.1f} "
            f"{d99 * 1000:>11.1f} {b50 / d50:>10.2f}x  ({counts})"
        )
    print("(latencies in ms; bcs = storage HTTP API on loopback, direct = driver query on the same data)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pods", type=int, default=200_000, help="Pods stored in all")
    parser.add_argument("--clusters", type=int, default=20, help="clusters they are spread over")
    parser.add_argument("--queries", type=int, default=200, help="queries measured per kind (at most)")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds spent per kind (at most)")
    parser.add_argument("--stores", default="sqlite,mongo", help="stores to measure")
    args = parser.parse_args(argv)
    if args.pods < args.clusters * NAMESPACES:
        sys.exit("--pods must be at least clusters x 20 namespaces")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
