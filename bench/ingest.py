"""Ingestion: a simulated cluster churning Pods at increasing rates, through the whole path
apiserver watch → data watch → storage service (store + outbox) → RabbitMQ → a consumer.

    python bench/ingest.py [--rates 250,500,1000,2000] [--seconds 8] [--stores null,sqlite,mongo]

The ``null`` store stores nothing: it measures the watch side alone (informer, shards, shaping; lag
taken when the writer hands a batch over), so a slow store shows up as the difference. Reports per
store and rate: the apiserver's change rate, the messages/s consumed, and the lag from the apiserver
write to the consumed message (p50/p99; each Pod carries the wall-clock time of its write in an
annotation), plus whether the pipeline kept up (started without a backlog, a median lag under 1 s,
and drained within 2 s of the load stopping). Next to it, in the same run and on the same servers:
raw upsert throughput with ``pymongo`` (``bulk_write``, 500 a batch) twice, as upserts of fresh small
documents and as a replay of this benchmark's own churn (the same mix of creates, updates and soft
deletes, of the documents the pipeline stored, on the same indexes), and with ``sqlite3``
(``executemany`` upserts); then the ratio of the pipeline's best sustained rate to each. SecantusDB
slows down as it ages (its change log grows): compare figures taken on a freshly started one.

The simulated cluster and its load run in a child process, and so does the consumer (as a real one
would), so neither competes with the pipeline for its interpreter. ``--every-rate`` measures every
rate even after one that did not keep up. Services come from ``BCS_TEST_MONGO`` and ``BCS_TEST_AMQP`` (as
``make bench`` sets them); the mongo store is skipped without ``BCS_TEST_MONGO``, RabbitMQ is needed.
Everything listens on 127.0.0.1 and every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import pathlib
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from typing import Any

import aio_pika
import orjson
import pymongo

from bcs import config
from bcs.core import bus as bus_port
from bcs.core import tasks
from bcs.plugins.k8s.datawatch import cluster, sink
from bcs.plugins.k8s.datawatch import settings as dw_settings
from bcs.plugins.k8s.kube import client
from bcs.storage import outbox
from bcs.storage.service import core, messages
from bcs.storage.store import conditions as c
from bcs.storage.store import port

__all__ = ["main"]

CLUSTER = "BCS-K8S-40001"
NAMESPACE = "bench"
POOL = 2000  # Pods kept in the churned namespace
STAMP = "bench.bkbcs.tencent.com/t"  # annotation: wall-clock time of the write
QUIET = 1.5  # seconds without messages that end a step
DRAIN_LIMIT = 60.0  # seconds a step may take to drain before it is reported as not keeping up
RAW_DOCS = 20_000
UPSERT = "INSERT INTO pod (key, doc) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET doc = excluded.doc"


def pod_body(name: str, n: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"app": f"app-{n % 50}", "tier": "web", "gen": str(n)},
            "annotations": {STAMP: repr(time.time())},
        },
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": f"registry.local/app-{n % 50}:1.{n % 7}",
                    "env": [{"name": f"E{i}", "value": "x" * 20} for i in range(8)],
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                }
            ]
        },
    }


# -- the child: a simulated cluster and its load ------------------------------------------------


def churn_step(rng: random.Random, names: list[str], serial: int) -> tuple[str, str]:
    """The next change and its Pod: ``create`` (``p<serial>``, added to ``names``), ``update`` or
    ``delete`` (one of ``names``, removed). Fills up to POOL Pods, then creates a quarter, updates half
    and deletes a quarter of the time."""
    roll = rng.random()
    if len(names) < POOL or (roll < 0.25 and len(names) < 2 * POOL):
        names.append(f"p{serial}")
        return "create", names[-1]
    if roll < 0.75:
        return "update", names[rng.randrange(len(names))]
    return "delete", names.pop(rng.randrange(len(names)))


async def _child() -> None:
    from bcs.sim.kube import cluster as sim_cluster

    sim = sim_cluster.KubeSim(nodes=3, seed=1, tls=False, controllers=False, node_heartbeat_interval=0)
    await sim.start()
    cl = sim.cluster
    pods = cl.registry.builtin("", "pods")
    cl.api.create(cl.registry.builtin("", "namespaces"), None, {"metadata": {"name": NAMESPACE}})
    rng = random.Random(7)
    names: list[str] = []
    serial = 0
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"kubeconfig": sim.kubeconfig}), flush=True)

    def change() -> None:
        nonlocal serial
        serial += 1
        what, name = churn_step(rng, names, serial)
        if what == "create":
            cl.api.create(pods, NAMESPACE, pod_body(name, serial))
        elif what == "update":

            def touch(o: dict[str, Any]) -> None:
                o["metadata"]["labels"]["gen"] = str(serial)
                o["metadata"]["annotations"][STAMP] = repr(time.time())

            cl.api.mutate(pods, NAMESPACE, name, touch)
        else:
            cl.api.delete(pods, NAMESPACE, name, {"gracePeriodSeconds": 0})

    while line := (await reader.readline()).decode().split():
        if line[0] == "fill":
            for _ in range(POOL):
                change()
                if serial % 200 == 0:
                    await asyncio.sleep(0)
            print(json.dumps({"changes": serial}), flush=True)
        elif line[0] == "run":
            rate, seconds = float(line[1]), float(line[2])
            start, done = time.perf_counter(), 0
            while (elapsed := time.perf_counter() - start) < seconds:
                for _ in range(int(elapsed * rate) - done):
                    change()
                    done += 1
                await asyncio.sleep(0.002)
            print(json.dumps({"changes": done, "seconds": time.perf_counter() - start}), flush=True)
    await sim.stop()


# -- the parent: the pipeline and the consumer ----------------------------------------------------


async def _consumer_child(amqp: str, exchange: str) -> None:
    """The consumer, in a process of its own (as a real consumer is): counts the Pod messages and the
    lag of each update; answers ``stats`` (and ``reset``) on stdin with one JSON line."""
    settings = config.BusSettings(backend="rabbitmq", url=amqp, exchange=exchange)
    bus = bus_port.open_bus(settings)
    await bus.start()
    subscription = await bus.subscribe(bus_port.Binding(exchange=exchange, routing_key="Pod"), prefetch=2000)
    count, lags, last = 0, [], 0.0

    async def consume() -> None:
        nonlocal count, last
        async for delivery in subscription:
            now = time.time()
            count += 1
            last = time.monotonic()
            if delivery.message.headers.get("event") == "update":
                stamp = orjson.loads(delivery.message.body)["metadata"].get("annotations", {}).get(STAMP)
                if stamp:
                    lags.append(round(now - float(stamp), 4))
            await delivery.ack()

    task = asyncio.create_task(consume(), name="bench.consumer")
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := (await reader.readline()).decode().strip():
        if line == "reset":
            count, lags = 0, []
        idle = time.monotonic() - last if last else 1e9
        print(json.dumps({"count": count, "lags": lags if line == "stats" else [], "idle": idle}), flush=True)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await subscription.close()
    await bus.close()


class Consumer:
    """The consumer process, seen from here: what it counted at the last :meth:`refresh`."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.count = 0
        self.lags: list[float] = []
        self.last = 0.0

    @classmethod
    async def start(cls, amqp: str, exchange: str) -> Consumer:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--consumer",
            amqp,
            exchange,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,  # the lags of a step travel as one line
        )
        assert proc.stdout is not None
        await proc.stdout.readline()  # subscribed
        return cls(proc)

    async def refresh(self, what: str = "peek") -> None:
        answer = await _command(self.proc, what)
        self.count, self.last = answer["count"], time.monotonic() - answer["idle"]
        if what == "stats":
            self.lags = answer["lags"]

    async def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10)
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _command(proc: asyncio.subprocess.Process, text: str) -> dict[str, Any]:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(text.encode() + b"\n")
    await proc.stdin.drain()
    return json.loads(await proc.stdout.readline())


class NullSink(sink.Sink):
    """Storage that stores nothing: what the watch side alone sustains (informer, shards, shaping)."""

    def __init__(self) -> None:
        self.count = 0
        self.lags: list[float] = []
        self.last = 0.0

    async def put(self, cluster_id: str, items: Any) -> None:
        now = time.time()
        for item in items:
            stamp = item.data["metadata"].get("annotations", {}).get(STAMP)
            if stamp:
                self.lags.append(now - float(stamp))
        self._seen(len(items))

    async def delete(self, cluster_id: str, items: Any) -> None:
        self._seen(len(items))

    def _seen(self, n: int) -> None:
        if n:
            self.count += n
            self.last = time.monotonic()

    async def put_events(self, events: Any) -> None:
        return None

    async def stored(self, cluster_id: str, resource_type: str) -> sink.StoredKeys:
        return {}

    async def stored_events(self, cluster_id: str, since: float) -> sink.StoredEvents:
        return set()


class Path:
    """Where the data watch writes and how arrivals are observed: the full path or the null sink."""

    def __init__(self, kind: str, amqp: str, mongo: str) -> None:
        self.kind = kind
        self.amqp = amqp
        self.mongo = mongo
        self.database = f"bench_{uuid.uuid4().hex[:8]}"
        self.service: core.StorageService | None = None
        self.observer: Consumer | NullSink = NullSink()
        self.sink: sink.Sink = self.observer  # type: ignore[assignment]
        self._ports: list[Any] = []
        self._drainer: asyncio.Task[Any] | None = None
        self.exchange = ""

    async def open(self) -> None:
        if self.kind == "null":
            return
        store_settings = (
            config.StoreSettings(backend="mongo", url=self.mongo, database=self.database)
            if self.kind == "mongo"
            else config.StoreSettings()
        )
        exchange = self.exchange = f"bench-ingest-{uuid.uuid4().hex[:8]}"
        bus_settings = config.BusSettings(backend="rabbitmq", url=self.amqp, exchange=exchange)
        data_dir = pathlib.Path(tempfile.mkdtemp(prefix="bcs-bench-ingest-"))
        store = port.open_store(store_settings, data_dir=data_dir)
        bus = bus_port.open_bus(bus_settings)
        for p in (store, bus):
            await p.start()
            self._ports.append(p)
        self.service = core.StorageService(store, bus, settings=config.StorageSettings(), exchange=exchange)
        self._drainer = tasks.create_guarded_task(name="bench.outbox", coro=self.service.outbox.run())
        self.observer = await Consumer.start(self.amqp, exchange)
        self.sink = sink.ServiceSink(self.service)

    async def refresh(self, what: str = "peek") -> None:
        """Bring the consumer's figures here (no-op for the null sink, which counts in-process)."""
        if isinstance(self.observer, Consumer):
            await self.observer.refresh(what)

    async def pending(self) -> int:
        if self.service is None:
            return 0
        return await self.service.store.count(outbox.OUTBOX, None, include_deleted=True)

    async def close(self) -> None:
        if isinstance(self.observer, Consumer):
            await self.observer.close()
        if self.service is not None:
            await self.service.close()
            if self._drainer is not None:
                await tasks.stop_tasks([self._drainer])
            await self.service.outbox.close()
        for p in reversed(self._ports):
            await p.close()
        if self.kind == "mongo":
            with pymongo.MongoClient(self.mongo) as mc:
                mc.drop_database(self.database)
        if self.exchange:  # leave nothing behind on a shared broker
            conn = await aio_pika.connect(self.amqp)
            try:
                for name in (self.exchange, messages.watch_exchange(self.exchange)):
                    channel = await conn.channel()
                    await channel.exchange_delete(name)
                    await channel.close()
            finally:
                await conn.close()


async def _quiet(path: Path, since: float) -> tuple[float, bool]:
    """Wait until nothing has arrived for QUIET seconds and nothing is left to publish: the last
    arrival, and whether that happened within DRAIN_LIMIT."""
    deadline = time.monotonic() + DRAIN_LIMIT
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        await path.refresh()
        last = max(path.observer.last, since)
        if time.monotonic() - last > QUIET and not await path.pending():
            return last, True
    return max(path.observer.last, since), False


async def pipeline(
    path: Path, rates: list[float], seconds: float, *, every_rate: bool = False
) -> list[dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    rows = []
    try:
        assert proc.stdout is not None
        kubeconfig = json.loads(await proc.stdout.readline())["kubeconfig"]
        settings = dw_settings.DataWatchSettings(only=("v1:Pod", "v1:Namespace"), diff_interval=3600.0)
        async with await client.connect(kubeconfig) as kube:
            watch = cluster.DataWatch(kube, path.sink, cluster_id=CLUSTER, settings=settings)
            running = asyncio.create_task(watch.run(), name="bench.datawatch")
            try:
                while not watch.synced:  # noqa: ASYNC110 - a benchmark polls a flag, once
                    await asyncio.sleep(0.1)
                await _command(proc, "fill")
                _, clean = await _quiet(path, time.monotonic())
                for rate in rates:
                    await path.refresh("reset")
                    seen = path.observer
                    seen.count, seen.lags = 0, []
                    start = time.monotonic()
                    made = await _command(proc, f"run {rate} {seconds}")
                    stopped = time.monotonic()
                    last, drained = await _quiet(path, stopped)
                    await path.refresh("stats")
                    p50 = _pct(seen.lags, 0.50)
                    rows.append(
                        {
                            "store": path.kind,
                            "rate": rate,
                            "changes/s": made["changes"] / made["seconds"],
                            "messages/s": seen.count / max(last - start, 1e-9),
                            "p50": p50,
                            "p99": _pct(seen.lags, 0.99),
                            # Drained soon after the load stopped, from a clean start, without a
                            # backlog of seconds during the step.
                            "kept up": clean and drained and last - stopped < 2.0 + QUIET and p50 < 1.0,
                        }
                    )
                    print(_row(rows[-1]), flush=True)
                    clean = drained
                    if not rows[-1]["kept up"]:
                        # Let the backlog go first; higher rates cannot keep up either (unless asked).
                        _, clean = await _quiet(path, time.monotonic())
                        if not every_rate:
                            break
            finally:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return rows


# -- raw baselines --------------------------------------------------------------------------------


def _raw_docs(n: int) -> list[dict[str, Any]]:
    return [
        {
            "clusterId": CLUSTER,
            "namespace": NAMESPACE,
            "resourceType": "Pod",
            "resourceName": f"p{i}",
            "data": pod_body(f"p{i}", i),
        }
        for i in range(n)
    ]


def raw_mongo(url: str) -> float:
    """Upserts/s with pymongo bulk_write (500 a batch) on a fresh database of the same server."""
    name = f"bench_raw_{uuid.uuid4().hex[:8]}"
    docs = _raw_docs(RAW_DOCS)
    with pymongo.MongoClient(url) as mc:
        coll = mc[name]["Pod"]
        coll.create_index(
            [("clusterId", 1), ("namespace", 1), ("resourceType", 1), ("resourceName", 1)], unique=True
        )
        try:
            start = time.perf_counter()
            for i in range(0, len(docs), 500):
                ops = [
                    pymongo.UpdateOne(
                        {k: d[k] for k in ("clusterId", "namespace", "resourceType", "resourceName")},
                        {"$set": {"data": d["data"], "updateTime": time.time()}},
                        upsert=True,
                    )
                    for d in docs[i : i + 500]
                ]
                coll.bulk_write(ops, ordered=True)
            return len(docs) / (time.perf_counter() - start)
        finally:
            mc.drop_database(name)


def raw_mongo_churn(url: str, samples: list[dict[str, Any]]) -> float:
    """Changes/s of the benchmark's own churn replayed with pymongo ``bulk_write`` (500 a batch): the
    same mix (create, update, soft delete), the objects the pipeline stored (``samples``: the
    simulator's Pods, as large as what the pipeline writes), the same indexes (the feature keys'
    unique index and the deletion flag's) and a filled pool first, as the pipeline's steps have."""
    name = f"bench_raw_{uuid.uuid4().hex[:8]}"
    keys = ("clusterId", "namespace", "resourceType", "resourceName")
    rng = random.Random(7)
    names: list[str] = []
    serial = 0

    def op() -> pymongo.UpdateOne:
        nonlocal serial
        serial += 1
        now = datetime.datetime.now(datetime.UTC)
        what, target = churn_step(rng, names, serial)
        match = {"clusterId": CLUSTER, "namespace": NAMESPACE, "resourceType": "Pod", "resourceName": target}
        if what == "delete":
            return pymongo.UpdateOne(match, {"$set": {"_isBcsObjectDeleted": True, "updateTime": now}})
        data = samples[serial % len(samples)]
        fields = {"data": data, "updateTime": now, "_isBcsObjectDeleted": False}
        return pymongo.UpdateOne(match, {"$set": fields, "$setOnInsert": {"createTime": now}}, upsert=True)

    with pymongo.MongoClient(url) as mc:
        coll = mc[name]["Pod"]
        coll.create_index([(k, 1) for k in keys], unique=True)
        coll.create_index([("_isBcsObjectDeleted", 1)])
        try:
            fill = [op() for _ in range(POOL)]
            for i in range(0, len(fill), 500):
                coll.bulk_write(fill[i : i + 500])
            start = time.perf_counter()
            for _ in range(RAW_DOCS // 500):
                coll.bulk_write([op() for _ in range(500)])
            return RAW_DOCS / (time.perf_counter() - start)
        finally:
            mc.drop_database(name)


def raw_sqlite() -> float:
    """Upserts/s with sqlite3 executemany (500 a batch, JSON text, WAL) in a temporary file."""
    docs = _raw_docs(RAW_DOCS)
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "raw.sqlite3"))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE pod (key TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        start = time.perf_counter()
        for i in range(0, len(docs), 500):
            rows = [
                (f"{d['clusterId']}/{d['namespace']}/{d['resourceName']}", orjson.dumps(d).decode())
                for d in docs[i : i + 500]
            ]
            with conn:
                conn.executemany(UPSERT, rows)
        elapsed = time.perf_counter() - start
        conn.close()
    return len(docs) / elapsed


# -- report ---------------------------------------------------------------------------------------


def _row(r: dict[str, Any]) -> str:
    return (
        f"{r['store']:<7} {r['rate']:>7.0f} {r['changes/s']:>10.0f} {r['messages/s']:>10.0f} "
        f"{r['p50'] * 1000:>9.0f} {r['p99'] * 1000:>9.0f}  {'yes' if r['kept up'] else 'NO'}"
    )


HEADER = f"{'store':<7} {'target':>7} {'changes/s':>10} {'msgs/s':>10} {'p50 ms':>9} {'p99 ms':>9}  kept up"


async def run(args: argparse.Namespace) -> None:
    amqp = os.environ.get("BCS_TEST_AMQP")
    if not amqp:
        sys.exit("BCS_TEST_AMQP is needed (a RabbitMQ broker); run through `make bench`")
    mongo = os.environ.get("BCS_TEST_MONGO")
    rates = [float(r) for r in args.rates.split(",")]
    stores = [s for s in args.stores.split(",") if s]
    print("ingestion: watch -> store -> bus -> consumer; lag = apiserver write -> message consumed")
    print(HEADER, flush=True)
    results: dict[str, list[dict[str, Any]]] = {}
    samples: list[dict[str, Any]] = []  # Pods as the pipeline stored them, for the raw churn replay
    for kind in stores:
        if kind == "mongo" and not mongo:
            print("mongo   (skipped: BCS_TEST_MONGO is not set)")
            continue
        path = Path(kind, amqp, mongo or "")
        try:
            await path.open()
            results[kind] = await pipeline(path, rates, args.seconds, every_rate=args.every_rate)
            if path.service is not None and not samples:
                stored = await path.service.store.find("Pod", c.Query(fields=["data"], limit=500))
                samples = [d["data"] for d in stored]
        finally:
            await path.close()
    print()
    print(f"{'store':<7} {'raw baseline':<44} {'raw/s':>8} {'best kept-up changes/s':>23} {'ratio':>7}")
    for kind, rows in results.items():
        if kind == "null":
            continue
        kept = [r["changes/s"] for r in rows if r["kept up"]]
        best = max(kept, default=0.0)
        if kind == "mongo":
            baselines = [("pymongo upserts, fresh 640-byte docs", raw_mongo(mongo or ""))]
            if samples:
                churn = raw_mongo_churn(mongo or "", samples)
                baselines.append(("pymongo upserts, this churn and its docs", churn))
        else:
            baselines = [("sqlite3 executemany upserts", raw_sqlite())]
        for label, raw in baselines:
            print(f"{kind:<7} {label:<44} {raw:>8.0f} {best:>23.0f} {best / raw:>6.3f}x")
    kept_p99 = [r["p99"] for rows in results.values() for r in rows if r["kept up"]]
    if kept_p99:
        print(f"(p99 lag over the kept-up steps: at most {max(kept_p99) * 1000:.0f} ms)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="250,500,1000,2000", help="Pod changes/s per step")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each step")
    parser.add_argument(
        "--stores", default="null,sqlite,mongo", help="null (the watch side alone), sqlite, mongo"
    )
    parser.add_argument(
        "--every-rate", action="store_true", help="measure every rate, even after one that did not keep up"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--consumer", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(_child())
        return
    if args.consumer:
        asyncio.run(_consumer_child(*args.consumer))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
