"""Load a simulated Kubernetes cluster and measure it: objects held, memory per object, list and
watch throughput over HTTP.

    python bench/sim_kube.py --nodes 5000 --pods 150000

Pods go through the real path (create -> scheduler binding -> kubelet status), so the figures
include every version the controllers write. Events are off, as they would dwarf the pods. Last,
custom resource writes with a value-validated schema are timed against a schema that checks nothing,
and the compiled validity check a write runs is timed against the full validator it replaces.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time

import aiohttp
from aiohttp import web

from bcs.sim.kube import cluster, crvalidation, schemavalidate

__all__ = ["main"]


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _reset_peak() -> None:
    """Start a new RSS high-water mark (Linux: "5" to /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


async def _baseline(size: int) -> tuple[web.AppRunner, str]:
    """A plain aiohttp server answering one static body of ``size`` bytes: the transport floor."""
    body = b"x" * size

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/"


async def _load(sim: cluster.KubeSim, pods: int, namespaces: int) -> float:
    cl = sim.cluster
    ns_rt, pod_rt = cl.registry.builtin("", "namespaces"), cl.registry.builtin("", "pods")
    for i in range(namespaces):
        cl.api.create(ns_rt, None, {"metadata": {"name": f"load-{i}"}})
    start = time.perf_counter()
    for i in range(pods):
        cl.api.create(
            pod_rt,
            f"load-{i % namespaces}",
            {
                "metadata": {"name": f"pod-{i}", "labels": {"app": f"app-{i % 100}", "shard": str(i % 7)}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": f"registry.local/app-{i % 100}:1.0",
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ]
                },
            },
        )
        if i % 1000 == 999:
            await asyncio.sleep(0)
    while True:
        running = sum(1 for o in cl.store.iter(pod_rt) if o.fields[5] == "Running")
        if running >= pods:
            break
        await asyncio.sleep(0.5)
    took = time.perf_counter() - start
    rv = -1
    while rv != cl.store.rv:  # let the controllers finish (conditions after Running) before measuring
        rv = cl.store.rv
        await asyncio.sleep(1.0)
    return took


async def _list(sim: cluster.KubeSim, session: aiohttp.ClientSession, query: str) -> tuple[int, int, float]:
    """(bytes, objects, seconds) of one LIST; the body is counted as it streams in, not kept, so the
    process's memory shows the server's side."""
    marker = b'"kind":"Pod"'
    size = count = 0
    tail = b""
    start = time.perf_counter()
    async with session.get(
        f"{sim.url}/api/v1/pods{query}", headers={"Authorization": f"Bearer {sim.token}"}
    ) as resp:
        async for chunk in resp.content.iter_chunked(1 << 20):
            size += len(chunk)
            data = tail + chunk  # the tail is shorter than the marker: no marker is counted twice
            count += data.count(marker)
            tail = data[-(len(marker) - 1) :]
    return size, count, time.perf_counter() - start


async def _watch(sim: cluster.KubeSim, session: aiohttp.ClientSession, changes: int) -> tuple[int, float]:
    cl = sim.cluster
    rt = cl.registry.builtin("", "pods")
    rv = cl.store.rv
    got = 0
    url = f"{sim.url}/api/v1/namespaces/load-0/pods?watch=1&resourceVersion={rv}&timeoutSeconds=120"
    async with session.get(url, headers={"Authorization": f"Bearer {sim.token}"}) as resp:
        names = [n for _, n in cl.store.keys(rt, "load-0")]
        start = time.perf_counter()
        for i in range(changes):
            cl.api.mutate(
                rt,
                "load-0",
                names[i % len(names)],
                lambda o, i=i: o["metadata"].setdefault("annotations", {}).update(n=str(i)),
            )
            if i % 500 == 499:
                await asyncio.sleep(0)
        async for _line in resp.content:
            got += 1
            if got >= changes:
                break
        return got, time.perf_counter() - start


_ITEM = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 63, "pattern": "^[a-z0-9-]+$"},
        "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "weight": {"type": "integer", "minimum": 0, "maximum": 100, "default": 1},
    },
}
_CHECKED = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["replicas"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "mode": {"type": "string", "enum": ["Fast", "Slow"], "default": "Fast"},
                "startedAt": {"type": "string", "format": "date-time"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": _ITEM,
                },
            },
        }
    },
}


def _custom_body(i: int) -> dict:
    items = [{"name": f"item-{n}", "port": 8000 + n if n % 2 else "http", "weight": n} for n in range(20)]
    return {
        "metadata": {"name": f"thing-{i}"},
        "spec": {
            "replicas": i % 7,
            "startedAt": "2024-05-01T10:00:00Z",
            "labels": {f"l{n}": "v" for n in range(10)},
            "items": items,
        },
    }


def _custom_rate(sim: cluster.KubeSim, schema: dict, kind: str, n: int) -> tuple[float, float]:
    """(creates/s, updates/s) of ``n`` custom resources of a fresh CRD with ``schema``."""
    api, reg = sim.cluster.api, sim.cluster.registry
    plural = kind.lower() + "s"
    crd = {
        "metadata": {"name": f"{plural}.bench.example.com"},
        "spec": {
            "group": "bench.example.com",
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }
    api.create(reg.builtin("apiextensions.k8s.io", "customresourcedefinitions"), None, crd)
    rt = reg.get("bench.example.com", "v1", plural)
    assert rt is not None
    bodies = [_custom_body(i) for i in range(n)]
    start = time.perf_counter()
    for body in bodies:
        api.create(rt, "default", body)
    created = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(n):
        obj = api.get(rt, "default", f"thing-{i}")
        obj["spec"]["replicas"] += 1
        api.update(rt, "default", f"thing-{i}", obj)
    updated = time.perf_counter() - start
    return n / created, n / updated


def _check_cost(sim: cluster.KubeSim, kind: str) -> tuple[float, float]:
    """Microseconds per stored object of the full validator and of the compiled check (best of 3)."""
    rt = sim.cluster.registry.get("bench.example.com", "v1", kind.lower() + "s")
    assert rt is not None
    objs = [o.decode() for o in sim.cluster.store.iter(rt)]
    plan = crvalidation.plan(rt)
    assert plan.schema is not None
    assert plan.ok is not None
    schema, ok = plan.schema, plan.ok
    out = []
    for fn in (lambda o: schemavalidate.validate(schema, o), ok):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for o in objs:
                fn(o)
            best = min(best, time.perf_counter() - start)
        out.append(best / len(objs) * 1e6)
    return out[0], out[1]


async def run(args: argparse.Namespace) -> None:
    gc.collect()
    base = _rss()
    async with cluster.KubeSim(
        nodes=args.nodes,
        seed=1,
        tls=False,
        node_heartbeat_interval=0,
        record_events=False,
        pod_start_delay=0,
        node_pods="110",
    ) as sim:
        booted = _rss()
        took = await _load(sim, args.pods, args.namespaces)
        gc.collect()
        loaded = _rss()
        objects = sim.cluster.store.count()
        print(
            f"objects held: {objects} ({args.nodes} nodes, {args.pods} pods), loaded in {took:.1f}s "
            f"({args.pods / took:.0f} pods/s incl. scheduling and kubelet status)"
        )
        print(
            f"RSS: start {base / 2**20:.0f} MiB, after boot {booted / 2**20:.0f} MiB, "
            f"loaded {loaded / 2**20:.0f} MiB; "
            f"{(loaded - booted) / max(args.pods, 1):.0f} bytes per pod (incl. watch history)"
        )
        raw = sum(len(o.raw) for o in sim.cluster.store.iter(sim.cluster.registry.builtin("", "pods")))
        print(f"encoded pod size: {raw / max(args.pods, 1):.0f} bytes on average")
        async with aiohttp.ClientSession() as session:
            gc.collect()
            before = _rss()
            _reset_peak()
            size, count, first = await _list(sim, session, "")
            peak = _peak() - before
            times = [first] + [(await _list(sim, session, ""))[2] for _ in range(2)]
            secs = statistics.median(times)
            runner, url = await _baseline(size)
            floor = []
            for _ in range(3):
                start = time.perf_counter()
                async with session.get(url) as resp:
                    async for _chunk in resp.content.iter_chunked(1 << 20):
                        pass
                floor.append(time.perf_counter() - start)
            await runner.cleanup()
            print(
                f"LIST all pods: {count} objects, {size / 2**20:.1f} MiB; first {first:.2f}s, median of 3 "
                f"{secs:.2f}s ({count / secs:.0f} objects/s); peak extra RSS during the first "
                f"{peak / 2**20:.0f} MiB"
            )
            print(
                f"  baseline (a static body of the same size from plain aiohttp): median "
                f"{statistics.median(floor):.2f}s; LIST/baseline = {secs / statistics.median(floor):.1f}x"
            )
            size, count, secs = await _list(sim, session, "?labelSelector=app%3Dapp-7")
            print(f"LIST with labelSelector: {count} objects in {secs:.3f}s")
            size, count, secs = await _list(sim, session, "?limit=500")
            print(f"LIST limit=500: {count} objects in {secs:.3f}s")
            got, secs = await _watch(sim, session, args.watch_changes)
            print(f"WATCH: {got} events in {secs:.2f}s ({got / secs:.0f} events/s, writes included)")
        if args.custom:
            plain = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            runs = [
                (
                    _custom_rate(sim, plain, f"Plain{r}", args.custom),
                    _custom_rate(sim, _CHECKED, f"Checked{r}", args.custom),
                )
                for r in range(3)
            ]
            base_c = statistics.median(p[0] for p, _ in runs)
            base_u = statistics.median(p[1] for p, _ in runs)
            chk_c = statistics.median(c[0] for _, c in runs)
            chk_u = statistics.median(c[1] for _, c in runs)
            print(
                f"custom resources ({args.custom} x 3, in process): schema-validated create {chk_c:.0f}/s, "
                f"update {chk_u:.0f}/s; baseline (preserve-unknown-fields schema) create {base_c:.0f}/s, "
                f"update {base_u:.0f}/s; validated/baseline time = {base_c / chk_c:.2f}x create, "
                f"{base_u / chk_u:.2f}x update"
            )
            full, compiled = _check_cost(sim, "Checked0")
            print(
                f"  per object: full validator {full:.0f} us, compiled check {compiled:.0f} us "
                f"({full / compiled:.1f}x); the full validator now runs only for invalid writes"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=150_000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--watch-changes", type=int, default=5_000)
    parser.add_argument("--custom", type=int, default=2_000, help="custom resources per validation run")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
