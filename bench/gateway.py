"""The gateway's cost as a reverse proxy, against the same simulated apiserver in one run.

    python bench/gateway.py [--requests 2000] [--concurrency 32] [--rounds 3] [--events 500]

Three ways to the same ``bcs sim kube`` apiserver (TLS, token), each a separate process on loopback:
(a) direct; (b) a bare aiohttp streaming pass-through proxy written here (the floor cost of any
Python proxy: token swap, hop-by-hop filtering, chunk-by-chunk relay, nothing else); (c) ``bcs serve``
with auth, routing, rate limiting and metrics on. The proxies listen on plain HTTP, so the figures
compare proxy work, not TLS termination. Printed: throughput and p50/p99 of a GET list at 1 and at N
connections (cases interleaved, best of ``--rounds``), watch-event relay (events/s and
write-to-delivery lag), registration-to-routable latency, and the gateway with 1 and 2 workers on etcd,
MongoDB and RabbitMQ (from BCS_TEST_ETCD / BCS_TEST_MONGO / BCS_TEST_AMQP; skipped without them).
Goals: gateway >= 0.8x the bare proxy's throughput, <= 1 ms added p50 at one connection,
registration-to-routable p99 <= 2 s. Loops are bounded; nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import pathlib
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import attrs
import yaml
from aiohttp import web

__all__ = ["main"]

ROOT = pathlib.Path(__file__).resolve().parents[1]
CID = "BCS-K8S-40001"
ADMIN = "bench-admin-token"
PATH = "/api/v1/namespaces/default/pods"
HOP = {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host", "authorization"}
HOP_OUT = {"connection", "keep-alive", "transfer-encoding", "content-length"}
SHARED = (("etcd", "BCS_TEST_ETCD"), ("mongo", "BCS_TEST_MONGO"), ("amqp", "BCS_TEST_AMQP"))


# -- (b) the bare proxy, run as `python bench/gateway.py --bare-proxy ...` ---------------------------


async def bare_proxy(upstream: str, ca: str, token: str, port: int) -> None:
    connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=ca), limit=0)
    session = aiohttp.ClientSession(connector=connector, auto_decompress=False)

    async def handle(request: web.Request) -> web.StreamResponse:
        rest = request.raw_path.split(f"/clusters/{CID}", 1)[1]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        headers["Authorization"] = f"Bearer {token}"
        body = request.content if request.body_exists else None
        async with session.request(request.method, upstream + rest, headers=headers, data=body) as up:
            kept = {k: v for k, v in up.headers.items() if k.lower() not in HOP_OUT}
            out = web.StreamResponse(status=up.status, headers=kept)
            await out.prepare(request)
            async for chunk in up.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    app = web.Application()
    app.router.add_route("*", "/clusters/{cid}/{path:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("bare proxy ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await session.close()


# -- processes and the simulated cluster --------------------------------------------------------------


class Proc:
    """A child process; :meth:`wait_for` reads its output until a line matches, then drains it."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("BCS_")}, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    async def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        assert self.popen.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            line = await asyncio.to_thread(self.popen.stdout.readline)
            if not line:
                break
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                loop.run_in_executor(None, self._drain)
                return found
        raise RuntimeError(f"{pattern!r} never appeared:\n{''.join(self.lines[-20:])}")

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        for _ in self.popen.stdout:
            pass

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@attrs.frozen
class Sim:
    """The simulated apiserver: its URL, CA and token."""

    url: str
    ca_pem: str
    ca_file: pathlib.Path
    token: str

    @classmethod
    def from_kubeconfig(cls, url: str, kubeconfig: str, tmp: pathlib.Path) -> Sim:
        kc = yaml.safe_load(pathlib.Path(kubeconfig).read_text())
        ca_pem = base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        ca_file = tmp / "sim-ca.crt"
        ca_file.write_text(ca_pem)
        return cls(url=url, ca_pem=ca_pem, ca_file=ca_file, token=kc["users"][0]["user"]["token"])

    @property
    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(self, session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with session.post(self.url + path, json=body, headers=self.headers, ssl=self.ssl) as r:
            assert r.status == 201, await r.text()
            return await r.json()

    async def add_pods(self, count: int) -> None:
        async with aiohttp.ClientSession() as session:
            for i in range(count):
                pod = {
                    "metadata": {"name": f"p{i}"},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                }
                await self.post(session, PATH, pod)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def gateway(
    tmp: pathlib.Path, name: str, *, sim: Sim, workers: int = 1, shared: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """``bcs serve`` (plain HTTP, embedded or shared adapters) with the simulated cluster registered."""
    env = {
        "BCS_SERVER__DATA_DIR": str(tmp / name),
        "BCS_SERVER__TLS": "off",
        "BCS_SERVER__WORKERS": str(workers),
        "BCS_AUTH__ADMIN_TOKEN": ADMIN,
        "BCS_SERVER__RATE_LIMIT": "1000000",  # the default 1000/s per token would cap the load itself
        "BCS_SERVER__LOG_LEVEL": "WARNING",  # the access log is INFO: not written during the run
        "BCS_PLUGINS__K8S__WATCH": "false",
    }
    if shared:
        env |= {
            "BCS_KV__BACKEND": "etcd",
            "BCS_KV__ENDPOINTS": f'["{shared["etcd"]}"]',
            "BCS_KV__PREFIX": f"/bcs-bench/{time.monotonic_ns()}/",
            "BCS_STORE__BACKEND": "mongo",
            "BCS_STORE__URL": shared["mongo"],
            "BCS_STORE__DATABASE": f"bcs_bench_{os.getpid()}",
            "BCS_BUS__BACKEND": "rabbitmq",
            "BCS_BUS__URL": shared["amqp"],
        }
    proc = Proc([sys.executable, "-m", "bcs", "serve", "--port", "0"], env=env)
    try:
        url = (await proc.wait_for(r"serving on (http://\S+)")).group(1)
        await _put_credential(url, CID, sim)
        yield url
    finally:
        proc.stop()


async def _put_credential(url: str, cluster_id: str, sim: Sim) -> None:
    body = {
        "clusterID": cluster_id,
        "serverAddress": sim.url,
        "caCertData": sim.ca_pem,
        "userToken": sim.token,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            f"{url}/bcsapi/v4/clustermanager/v1/clustercredential/{cluster_id}",
            json=body,
            headers={"Authorization": f"Bearer {ADMIN}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()


# -- measurements -------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def load(
    base: str, path: str, *, requests: int, concurrency: int, headers: dict[str, str], ssl_ctx: Any
) -> dict[str, float]:
    """``requests`` GETs over ``concurrency`` keep-alive connections: req/s, p50 and p99 in ms."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=ssl_ctx)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(count: int) -> None:
            for _ in range(count):
                started = time.perf_counter()
                async with session.get(base + path, headers=headers) as r:
                    await r.read()
                    assert r.status == 200, r.status
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker(10) for _ in range(concurrency)))  # open and warm the connections
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "rps": len(latencies) / elapsed,
        "p50": _pct(latencies, 0.5) * 1000,
        "p99": _pct(latencies, 0.99) * 1000,
    }


async def watch_relay(
    base: str, *, sim: Sim, events: int, headers: dict[str, str], watch_ssl: ssl.SSLContext | None = None
) -> dict[str, float]:
    """Configmaps created straight on the apiserver, watched through ``base``: events/s and lag."""
    ns = f"bench-{time.monotonic_ns()}"
    written: dict[str, float] = {}
    received: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        rv = (await sim.post(session, "/api/v1/namespaces", {"metadata": {"name": ns}}))["metadata"][
            "resourceVersion"
        ]
        url = f"{base}/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}"
        async with session.get(url, headers=headers, ssl=watch_ssl or True) as watch:
            assert watch.status == 200

            async def read() -> None:
                while len(received) < events:
                    name = json.loads(await watch.content.readline())["object"]["metadata"]["name"]
                    if name.startswith("cm-"):  # not the namespace's own kube-root-ca.crt
                        received[name] = time.perf_counter()

            reader = asyncio.create_task(read())
            limit = asyncio.Semaphore(8)

            async def write(i: int) -> None:
                async with limit:
                    written[f"cm-{i}"] = time.perf_counter()
                    body = {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i)}}
                    await sim.post(session, f"/api/v1/namespaces/{ns}/configmaps", body)

            started = time.perf_counter()
            await asyncio.gather(*(write(i) for i in range(events)))
            await asyncio.wait_for(reader, 60)
            elapsed = time.perf_counter() - started
    lags = [received[n] - written[n] for n in written]
    return {"eps": events / elapsed, "p50": _pct(lags, 0.5) * 1000, "p99": _pct(lags, 0.99) * 1000}


async def registration(base: str, *, sim: Sim, count: int) -> dict[str, float]:
    """Report a new cluster's credential, then GET through it until 200: seconds, p50 and p99."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    times: list[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            cid = f"BCS-K8S-{41000 + i}"
            await _put_credential(base, cid, sim)
            started = time.perf_counter()
            for _ in range(2000):  # bounded: 2000 x 5 ms
                async with session.get(f"{base}/clusters/{cid}/version", headers=headers) as r:
                    if r.status == 200:
                        break
                await asyncio.sleep(0.005)
            times.append(time.perf_counter() - started)
    return {"p50": _pct(times, 0.5), "p99": _pct(times, 0.99)}


# -- the run ------------------------------------------------------------------------------------------


def _row(name: str, m: dict[str, float], base: dict[str, float] | None = None) -> str:
    text = f"  {name:<26} {m['rps']:>7.0f} req/s  p50 {m['p50']:6.2f} ms  p99 {m['p99']:6.2f} ms"
    if base:
        text += f"  = {m['rps'] / base['rps']:.2f}x bare, p50 {m['p50'] - base['p50']:+.2f} ms"
    return text


async def _best_of(
    rounds: int, cases: dict[str, Callable[[], Awaitable[dict[str, float]]]]
) -> dict[str, Any]:
    """Run the cases interleaved ``rounds`` times; keep each case's best-throughput round (the
    machine is shared: interleaving and best-of keep one case's bad luck from skewing the ratios)."""
    best: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for name, case in cases.items():
            m = await case()
            if name not in best or m["rps"] > best[name]["rps"]:
                best[name] = m
    return best


def _cases(sim: Sim, bare_url: str, gw_url: str, *, requests: int, conc: int) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {ADMIN}"}

    def case(base: str, headers: dict[str, str], ssl_ctx: Any) -> Callable[[], Awaitable[dict[str, float]]]:
        return lambda: load(base, PATH, requests=requests, concurrency=conc, headers=headers, ssl_ctx=ssl_ctx)

    return {
        "direct": case(sim.url, sim.headers, sim.ssl),
        "bare": case(bare_url, admin, None),
        "gateway": case(gw_url, admin, None),
    }


async def _get_lists(args: argparse.Namespace, sim: Sim, bare_url: str, gw_url: str) -> dict[int, Any]:
    found = {}
    for conc in (1, args.concurrency):
        requests = args.requests if conc > 1 else args.requests // 4
        m = found[conc] = await _best_of(
            args.rounds, _cases(sim, bare_url, gw_url, requests=requests, conc=conc)
        )
        print(f"GET list, {conc} connection(s), best of {args.rounds} x {requests} requests:")
        print(_row("direct", m["direct"]))
        print(
            _row("bare aiohttp proxy", m["bare"]) + f"  ({m['bare']['rps'] / m['direct']['rps']:.2f}x direct)"
        )
        print(_row("gateway", m["gateway"], m["bare"]))
    return found


async def _relays(args: argparse.Namespace, sim: Sim, bare_url: str, gw_url: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    print(f"watch-event relay ({args.events} configmaps created directly, watched through each):")
    for name, base, headers, watch_ssl in (
        ("direct", sim.url, sim.headers, sim.ssl),
        ("bare aiohttp proxy", bare_url, admin, None),
        ("gateway", gw_url, admin, None),
    ):
        m = await watch_relay(base, sim=sim, events=args.events, headers=headers, watch_ssl=watch_ssl)
        print(f"  {name:<26} {m['eps']:>7.0f} events/s  lag p50 {m['p50']:6.2f} ms  p99 {m['p99']:6.2f} ms")


async def _workers(tmp: pathlib.Path, sim: Sim, *, args: argparse.Namespace) -> None:
    shared = {name: os.environ.get(var, "") for name, var in SHARED}
    if not all(shared.values()):
        print("workers: skipped (BCS_TEST_ETCD, BCS_TEST_MONGO and BCS_TEST_AMQP name the shared services)")
        return
    admin = {"Authorization": f"Bearer {ADMIN}"}
    found: dict[int, dict[str, float]] = {}
    print(f"workers on etcd + MongoDB + RabbitMQ, {args.concurrency} connections, best of {args.rounds}:")
    for workers in (1, 2):
        async with gateway(tmp, f"gw-w{workers}", sim=sim, workers=workers, shared=shared) as gw:
            url = f"{gw}/clusters/{CID}"

            async def case(url: str = url) -> dict[str, float]:
                return await load(
                    url,
                    PATH,
                    requests=args.requests,
                    concurrency=args.concurrency,
                    headers=admin,
                    ssl_ctx=None,
                )

            found[workers] = (await _best_of(args.rounds, {"gw": case}))["gw"]
            print(_row(f"gateway, {workers} worker(s)", found[workers]))
    print(
        f"  2 workers / 1 worker: {found[2]['rps'] / found[1]['rps']:.2f}x "
        f"({os.cpu_count()} cores, shared with the load generator and the apiserver)"
    )


async def run(args: argparse.Namespace) -> None:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bcs-bench-gw-"))
    procs: list[Proc] = []
    try:
        procs.append(
            Proc([sys.executable, "-m", "bcs", "sim", "kube", "--nodes", "3", "--kubeconfig-out", str(tmp)])
        )
        found = await procs[-1].wait_for(r"cluster sim-0: (\S+) kubeconfig=(\S+)")
        sim = await asyncio.to_thread(Sim.from_kubeconfig, found.group(1), found.group(2), tmp)
        await sim.add_pods(args.pods)
        port = _free_port()
        procs.append(
            Proc([sys.executable, __file__, "--bare-proxy", sim.url, str(sim.ca_file), sim.token, str(port)])
        )
        await procs[-1].wait_for("bare proxy ready")
        bare_url = f"http://127.0.0.1:{port}/clusters/{CID}"
        print(f"GET {PATH} ({args.pods} pods); loopback; {os.cpu_count()} cores shared by every process")
        async with gateway(tmp, "gw1", sim=sim) as gw:
            gw_url = f"{gw}/clusters/{CID}"
            lists = await _get_lists(args, sim, bare_url, gw_url)
            await _relays(args, sim, bare_url, gw_url)
            reg = await registration(gw, sim=sim, count=args.registrations)
        print(
            f"registration-to-routable ({args.registrations} clusters): p50 {reg['p50'] * 1000:.1f} ms, "
            f"p99 {reg['p99'] * 1000:.1f} ms (goal <= 2000 ms)"
        )
        many, one = lists[args.concurrency], lists[1]
        print(
            f"goals: gateway/bare at {args.concurrency} connections "
            f"{many['gateway']['rps'] / many['bare']['rps']:.2f}x (goal >= 0.8x); added p50 at 1 connection "
            f"{one['gateway']['p50'] - one['bare']['p50']:+.2f} ms (goal <= 1 ms)"
        )
        await _workers(tmp, sim, args=args)
    finally:
        for proc in reversed(procs):
            proc.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--bare-proxy":
        upstream, ca, token, port = sys.argv[2:6]
        asyncio.run(bare_proxy(upstream, ca, token, int(port)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=2000, help="GETs per round at N connections (1/4 at 1)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="connections of the many-connection case")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case; the best is kept")
    parser.add_argument("--pods", type=int, default=10, help="pods in the listed namespace")
    parser.add_argument("--events", type=int, default=500, help="watch events per relay case")
    parser.add_argument("--registrations", type=int, default=20, help="clusters registered one after another")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
