"""Hook implementations of the ``mesos`` plugin; the backend and its settings live in ``.backend``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import bcs
from bcs import config
from bcs.plugins.mesos import backend as mesos_backend

if TYPE_CHECKING:
    from bcs.config import BcsSettings
    from bcs.core import backend

__all__ = [
    "MesosBackend",
    "MesosSettings",
    "bcs_check_config",
    "bcs_register_backends",
    "bcs_register_commands",
]

MesosBackend = mesos_backend.MesosBackend
MesosSettings = mesos_backend.MesosSettings


@bcs.hookimpl
def bcs_register_backends(registry: backend.BackendRegistry) -> None:
    registry.add(MesosBackend)


@bcs.hookimpl
def bcs_check_config(settings: BcsSettings) -> None:
    config.build_section(
        MesosSettings, settings.plugin_config("mesos"), source=settings.source, path="plugins.mesos"
    )


@bcs.hookimpl
def bcs_register_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from bcs.plugins.mesos import cli  # the client verbs load only when the command line is built

    parser = subparsers.add_parser(
        "mesos",
        help="apply, get, scale and delete Mesos applications through the gateway",
        description=(cli.__doc__ or "").strip().splitlines()[0],
    )
    cli.configure_parser(parser)
    parser.set_defaults(handler=cli.run)
