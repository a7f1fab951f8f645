"""``bcs agent kube``: run the kube agent (see :mod:`bcs.plugins.k8s.agent`).

    USER_TOKEN=... bcs agent kube --gateway https://gw:8443 --cluster-id BCS-K8S-40001 \
        --kubeconfig cluster.kubeconfig --gateway-ca ca.crt

``USER_TOKEN`` is a register token of the cluster, or an admin token. Exit codes: 0 stopped cleanly
(or, with ``--once``, reported); 1 the report failed (``--once``); 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import ssl
import sys

from bcs import errors, logs
from bcs.plugins.k8s import agent

__all__ = ["configure_parser", "run"]

logger = logging.getLogger(__name__)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Report this cluster's apiserver address, CA and service-account token to the gateway."
    )
    parser.add_argument(
        "--gateway", required=True, metavar="URL", help="the bcs gateway, e.g. https://gw:8443"
    )
    parser.add_argument("--cluster-id", required=True, metavar="ID", help="e.g. BCS-K8S-40001")
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="reach the apiserver with this kubeconfig (default: in-cluster)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: its current context)")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--gateway-ca", metavar="FILE", help="CA that signed the gateway's certificate")
    trust.add_argument(
        "--insecure-skip-tls-verify", action="store_true", help="do not verify the gateway's certificate"
    )
    parser.add_argument("--period", type=float, default=60.0, help="seconds between reports (default 60)")
    parser.add_argument(
        "--external-proxy-addresses",
        default="",
        metavar="URLS",
        help="comma-separated https:// apiserver addresses to report instead of discovering them",
    )
    parser.add_argument("--once", action="store_true", help="report once and exit")
    parser.add_argument("--log-level", default="INFO", help="log level (default INFO)")


def client_ssl(cafile: str | None, *, insecure: bool, option: str) -> ssl.SSLContext | bool:
    """The TLS setting of an agent's client: off with ``--insecure-skip-tls-verify``, else the CA of
    ``option`` when given, else the system's trust store. A bad CA file is a ConfigError naming it."""
    if insecure:
        return False
    if cafile:
        try:
            return ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as e:
            raise errors.ConfigError(f"{option} {cafile}: {e}") from None
    return True


def build(args: argparse.Namespace, environ: dict[str, str] | None = None) -> agent.Agent:
    environ = dict(os.environ) if environ is None else environ
    token = environ.get("USER_TOKEN", "")
    if not token:
        raise errors.ConfigError("USER_TOKEN is not set (a register token of the cluster or an admin token)")
    access = (
        agent.from_kubeconfig(args.kubeconfig, context=args.context)
        if args.kubeconfig
        else agent.in_cluster(environ)
    )
    external = tuple(a.strip() for a in args.external_proxy_addresses.split(",") if a.strip())
    if args.period <= 0:
        raise errors.ConfigError("--period must be positive")
    return agent.Agent(
        gateway=args.gateway,
        cluster_id=args.cluster_id,
        user_token=token,
        access=access,
        gateway_ssl=client_ssl(
            args.gateway_ca, insecure=args.insecure_skip_tls_verify, option="--gateway-ca"
        ),
        period=args.period,
        external_addresses=external,
    )


def run(args: argparse.Namespace) -> int:
    logs.setup_logging(level=args.log_level)
    try:
        kube_agent = build(args)
    except errors.ConfigError as e:
        print(f"bcs agent kube: {e.message}", file=sys.stderr)
        return 2

    async def main() -> int:
        if args.once:
            try:
                addresses = await kube_agent.run_once()
            except (errors.BcsError, OSError, TimeoutError) as e:
                print(f"bcs agent kube: {agent.describe(e)}", file=sys.stderr)
                return 1
            except Exception as e:  # aiohttp.ClientError and friends: one line, no traceback
                print(f"bcs agent kube: {type(e).__name__}: {e}", file=sys.stderr)
                return 1
            print(f"cluster {args.cluster_id}: reported {','.join(addresses)}", flush=True)
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await kube_agent.run(stop)
        return 0

    return asyncio.run(main())
