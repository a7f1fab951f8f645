"""Hook implementations of the ``k8s`` plugin and its ``[plugins.k8s]`` settings."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import bcs
from bcs.core import backend
from bcs.plugins.k8s import agent_cli
from bcs.plugins.k8s import backend as k8s_backend
from bcs.plugins.k8s import settings as settings_mod
from bcs.plugins.k8s.datawatch import cli as datawatch_cli
from bcs.plugins.k8s.operators import commands as operators_cli

if TYPE_CHECKING:
    from bcs.config import BcsSettings

__all__ = [
    "K8sBackend",
    "K8sSettings",
    "bcs_check_config",
    "bcs_register_backends",
    "bcs_register_commands",
]

# The settings and the backend live in their own modules; these names stay importable from here.
OPERATORS = settings_mod.OPERATORS
K8sSettings = settings_mod.K8sSettings
K8sBackend = k8s_backend.K8sBackend
load_settings = settings_mod.load_settings


@bcs.hookimpl
def bcs_register_backends(registry: backend.BackendRegistry) -> None:
    registry.add(K8sBackend)


@bcs.hookimpl
def bcs_check_config(settings: BcsSettings) -> None:
    load_settings(settings)


def _agent_commands(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """The ``bcs agent`` sub-command collection, shared with other plugins' agents."""
    parser = subparsers.choices.get("agent")
    if parser is None:
        parser = subparsers.add_parser(
            "agent", help="run a cluster agent", description="Run an agent that registers a cluster."
        )
        parser.add_subparsers(dest="agent_command", metavar="KIND", required=True)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise AssertionError("the agent command has no sub-commands")  # pragma: no cover


@bcs.hookimpl
def bcs_register_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    kube = _agent_commands(subparsers).add_parser(
        "kube", help="report a Kubernetes cluster's apiserver credential to the gateway"
    )
    agent_cli.configure_parser(kube)
    kube.set_defaults(handler=agent_cli.run)

    watch = _agent_commands(subparsers).add_parser(
        "watch", help="sync one Kubernetes cluster into a bcs storage service over HTTP"
    )
    datawatch_cli.configure_parser(watch)
    watch.set_defaults(handler=datawatch_cli.run)

    operator = subparsers.add_parser(
        "operator",
        help="run the Hook / GameDeployment / GameStatefulSet operators against one cluster",
        description="Run the operators against the cluster of --kubeconfig, with Lease leader election.",
    )
    operators_cli.configure_parser(operator)
    operator.set_defaults(handler=operators_cli.run)

    crds = subparsers.add_parser("crds", help="manage the tkex.tencent.com CustomResourceDefinitions")
    crds_sub = crds.add_subparsers(dest="crds_command", metavar="COMMAND", required=True)
    install = crds_sub.add_parser(
        "install",
        help="apply the HookTemplate, HookRun, GameDeployment and GameStatefulSet CRDs",
        description="Apply the operators' CRDs (server-side apply, idempotent) and wait until served.",
    )
    operators_cli.configure_crds_parser(install)
    install.set_defaults(handler=operators_cli.run_crds)
