"""``bcs sim kube``: serve one or more simulated clusters until SIGINT/SIGTERM.

The lead wires ``configure_parser``/``run`` into ``bcs/cli.py``; ``--clusters N`` starts N
independent clusters on consecutive ports (when ``--port`` is not 0) and ``--kubeconfig-out DIR``
writes ``sim-<i>.kubeconfig`` for each.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bcs.sim.kube import cluster

__all__ = ["configure_parser", "run", "serve"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="first port (0 = pick free ports)")
    parser.add_argument("--clusters", type=int, default=1, help="number of independent clusters")
    parser.add_argument(
        "--kubeconfig-out", type=Path, default=None, help="directory for one kubeconfig per cluster"
    )
    parser.add_argument("--nodes", type=int, default=3, help="simulated nodes per cluster")
    parser.add_argument("--seed", type=int, default=None, help="seed for names, uids and IPs")
    parser.add_argument(
        "--http", action="store_true", help="plain HTTP, no TLS (kubectl then sends no token)"
    )
    parser.add_argument("--token", default="", help="bearer token (default: random per cluster)")
    parser.add_argument(
        "--history-window", type=float, default=300.0, help="seconds of watch history (older: 410)"
    )
    parser.add_argument("--churn", type=float, default=0.0, help="pod changes per second per cluster")
    parser.add_argument(
        "--node-heartbeat-interval",
        type=float,
        default=10.0,
        help="seconds between node status updates (0 = off)",
    )


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    sims: list[cluster.KubeSim] = []
    try:
        for i in range(args.clusters):
            port = args.port + i if args.port else 0
            out = args.kubeconfig_out or Path(".bcs", "sim-kube")
            sim = cluster.KubeSim(
                nodes=args.nodes,
                seed=None if args.seed is None else args.seed + i,
                tls=not args.http,
                host=args.host,
                port=port,
                token=args.token,
                name=f"sim-{i}",
                kubeconfig_dir=out,
                history_window=args.history_window,
                churn=args.churn,
                node_heartbeat_interval=args.node_heartbeat_interval,
            )
            await sim.start()
            sims.append(sim)
            print(f"cluster sim-{i}: {sim.url} kubeconfig={sim.kubeconfig}", flush=True)
        await stop.wait()
        return 0
    finally:
        for sim in sims:
            await sim.stop()


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await serve(args, stop)

    try:
        return asyncio.run(main())
    except OSError as exc:
        print(f"bcs sim kube: {exc}", file=sys.stderr)
        return 1
