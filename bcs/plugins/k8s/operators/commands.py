"""The ``bcs operator`` and ``bcs crds install`` command lines, kept free of the operators' imports.

Building ``bcs``'s argument parser imports this module for every command (``bcs --help``, ``bcs sim
kube``); the controllers and the Kubernetes client load only when one of these commands runs
(:mod:`bcs.plugins.k8s.operators.cli`).
"""

from __future__ import annotations

import argparse
import pathlib

from bcs.plugins.k8s.settings import OPERATORS

__all__ = ["CRD_DIR", "OPERATORS", "configure_crds_parser", "configure_parser", "run", "run_crds"]

CRD_DIR = pathlib.Path(__file__).resolve().parent / "crds"  # package data (config/crds links here)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``bcs operator``."""
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster service account)")
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument(
        "--operators",
        default=",".join(OPERATORS),
        help=f"comma-separated operators to run ({', '.join(OPERATORS)})",
    )
    parser.add_argument("--namespace", help="only watch this namespace (default: all)")
    parser.add_argument(
        "--lease-namespace", default="kube-system", help="namespace of the leader-election Lease"
    )
    parser.add_argument("--lease-name", default="bcs-operators", help="name of the leader-election Lease")
    parser.add_argument("--identity", help="this replica's identity in the Lease (default: host-pid)")
    parser.add_argument("--lease-duration", type=float, default=15.0, help="seconds a Lease is valid")
    parser.add_argument(
        "--renew-deadline", type=float, default=10.0, help="seconds the leader keeps retrying"
    )
    parser.add_argument("--retry-period", type=float, default=2.0, help="seconds between Lease attempts")
    parser.add_argument(
        "--metrics-address",
        metavar="HOST:PORT",
        help="serve Prometheus /metrics (and /healthz) there, e.g. 0.0.0.0:9100 (default: off)",
    )


def configure_crds_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``bcs crds install``."""
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig file of the target cluster")
    parser.add_argument("--dir", default=str(CRD_DIR), help="directory of CRD YAML files")


def run(args: argparse.Namespace) -> int:
    """``bcs operator``."""
    from bcs.plugins.k8s.operators import cli

    return cli.run(args)


def run_crds(args: argparse.Namespace) -> int:
    """``bcs crds install``."""
    from bcs.plugins.k8s.operators import cli

    return cli.run_crds(args)
