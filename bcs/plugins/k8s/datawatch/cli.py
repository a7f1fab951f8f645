"""``bcs agent watch``: the data watch of one cluster, run next to it, writing over the storage HTTP API.

    USER_TOKEN=... bcs agent watch --storage https://bcs:8443 --cluster-id BCS-K8S-40001 \
        --kubeconfig cluster.kubeconfig --storage-ca ca.crt

The same loop as ``bcs serve`` runs per owned cluster (:class:`~bcs.plugins.k8s.datawatch.cluster.DataWatch`),
with an :class:`~bcs.plugins.k8s.datawatch.httpsink.HttpSink`. ``--config`` reads the
``[plugins.k8s.data_watch]`` section of a bcs configuration file (filters, masks, intervals); without
it the defaults apply. ``USER_TOKEN`` (an admin token, or one allowed to write the storage API) is
sent as a bearer token. Exit codes: 0 stopped by a signal; 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping

import attrs

from bcs import config, errors, logs
from bcs.plugins.k8s import agent_cli
from bcs.plugins.k8s import settings as k8s_settings
from bcs.plugins.k8s.datawatch import settings as settings_mod

__all__ = ["configure_parser", "load_settings", "run", "watch"]

logger = logging.getLogger(__name__)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = "Keep the bcs storage equal to this cluster (list+watch, writes over HTTP)."
    parser.add_argument(
        "--storage", required=True, metavar="URL", help="the bcs server, e.g. https://bcs:8443"
    )
    parser.add_argument("--cluster-id", required=True, metavar="ID", help="e.g. BCS-K8S-40001")
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="reach the apiserver with this kubeconfig (default: in-cluster)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: its current context)")
    parser.add_argument("--config", metavar="FILE", help="bcs TOML whose [plugins.k8s.data_watch] applies")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--storage-ca", metavar="FILE", help="CA that signed the bcs server's certificate")
    trust.add_argument(
        "--insecure-skip-tls-verify", action="store_true", help="do not verify the bcs server's certificate"
    )
    parser.add_argument("--diff-interval", type=float, help="seconds between diffs against storage")
    parser.add_argument("--log-level", default="INFO", help="log level (default INFO)")


def load_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> settings_mod.DataWatchSettings:
    """The data watch settings of ``--config`` (defaults without), with the command-line overrides."""
    found = settings_mod.DataWatchSettings()
    if args.config:
        found = k8s_settings.load_settings(config.load(args.config, environ=environ)).data_watch
    if args.diff_interval is not None:
        if args.diff_interval <= 0:
            raise errors.ConfigError("--diff-interval must be positive")
        found = attrs.evolve(found, diff_interval=args.diff_interval)
    return found


async def watch(
    args: argparse.Namespace, stop: asyncio.Event, *, environ: Mapping[str, str] | None = None
) -> None:
    """Run the data watch until ``stop`` is set (ConfigError for unusable arguments)."""
    # Imported here: building ``bcs``'s parser must not load the Kubernetes client for every command.
    from bcs.plugins.k8s.datawatch import cluster, httpsink
    from bcs.plugins.k8s.kube import client

    environ = os.environ if environ is None else environ
    settings = load_settings(args, environ)
    tls = agent_cli.client_ssl(args.storage_ca, insecure=args.insecure_skip_tls_verify, option="--storage-ca")
    target = httpsink.HttpSink(args.storage, token=environ.get("USER_TOKEN", ""), ssl_context=tls)
    try:
        async with await client.connect(args.kubeconfig, context=args.context) as kube:
            loop = cluster.DataWatch(kube, target, cluster_id=args.cluster_id, settings=settings)
            task = asyncio.create_task(loop.run(), name=f"datawatch {args.cluster_id}")
            waiter = asyncio.create_task(stop.wait(), name="datawatch stop")
            try:
                await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (task, waiter):
                    t.cancel()
                await asyncio.gather(task, waiter, return_exceptions=True)
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error
    finally:
        await target.close()


def run(args: argparse.Namespace) -> int:
    logs.setup_logging(level=args.log_level)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await watch(args, stop)
        except errors.ConfigError as e:
            print(f"bcs agent watch: {e.message}", file=sys.stderr)
            return 2
        return 0

    return asyncio.run(main())
