"""Serve a simulated Mesos master (v1 scheduler HTTP API) with simulated agents until SIGINT/SIGTERM.

``bcs sim mesos --agents 5 --port 5050`` prints the master URL; point pymesos or the bcs scheduler at
it. Faults are injected over HTTP: ``POST /admin/agents/<id|hostname>/lose|recover|remove``,
``POST /admin/tasks/<task id>/fail|finish|unhealthy|healthy`` and ``POST /admin/master/restart``
(``{"downtime": s}``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bcs.sim.mesos import sim

__all__ = ["configure_parser", "run", "serve"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (__doc__ or "").strip()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0 = pick a free one)")
    parser.add_argument("--agents", type=int, default=3, help="number of simulated agents")
    parser.add_argument("--cpus", type=float, default=4.0, help="cpus per agent")
    parser.add_argument("--mem", type=float, default=8192.0, help="memory per agent (MB)")
    parser.add_argument("--disk", type=float, default=10240.0, help="disk per agent (MB)")
    parser.add_argument("--ports", default="31000-32000", help="port ranges per agent, e.g. 31000-32000")
    parser.add_argument(
        "--attributes",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON/YAML file of per-agent or per-pattern hostname, ip, attributes and resources",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for ids and uuids")
    parser.add_argument(
        "--heartbeat-interval", type=float, default=15.0, help="seconds between HEARTBEAT events"
    )
    parser.add_argument(
        "--allocation-interval", type=float, default=1.0, help="seconds between allocation passes"
    )
    parser.add_argument(
        "--task-delay",
        type=float,
        default=0.02,
        help="seconds for each task step (STAGING→STARTING→RUNNING, kill)",
    )


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    mesos = sim.MesosSim(
        host=args.host,
        port=args.port,
        agents=args.agents,
        cpus=args.cpus,
        mem=args.mem,
        disk=args.disk,
        ports=args.ports,
        attributes=args.attributes,
        seed=args.seed,
        heartbeat_interval=args.heartbeat_interval,
        allocation_interval=args.allocation_interval,
        launch_delay=args.task_delay,
        running_delay=args.task_delay,
        kill_delay=args.task_delay,
    )
    await mesos.start()
    try:
        print(f"mesos master: {mesos.url} ({args.agents} agents)", flush=True)
        await stop.wait()
        return 0
    finally:
        await mesos.stop()


def run(args: argparse.Namespace) -> int:
    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await serve(args, stop)

    try:
        return asyncio.run(main())
    except (OSError, ValueError) as exc:
        print(f"bcs sim mesos: {exc}", file=sys.stderr)
        return 1
