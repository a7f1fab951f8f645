"""The extension points of bcs: one function per hook, documented in ``docs/hooks.md``.

Hooks are synchronous and cheap (registration, config checks, route contribution). A hook that may
need I/O says "may return an awaitable"; the core resolves such results with
:func:`bcs.core.utils.await_me_maybe`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from aiohttp import web

    from bcs.config import BcsSettings
    from bcs.core.backend import BackendRegistry
    from bcs.core.registry import Cluster
    from bcs.core.tasks import TaskSpec

__all__ = [
    "bcs_backend_for_cluster",
    "bcs_check_config",
    "bcs_register_backends",
    "bcs_register_commands",
    "bcs_register_routes",
    "bcs_register_tasks",
    "bcs_startup",
]

hookspec = pluggy.HookspecMarker("bcs")


@hookspec
def bcs_register_backends(registry: BackendRegistry) -> None:
    """Add backend classes with ``registry.add(MyBackend)``.

    Called once when the application is built, before anything starts.

    :param registry: the backend registry; a second backend with the same ``name()`` is a
        :class:`bcs.errors.StartupError` naming both plugins.
    """


@hookspec
def bcs_check_config(settings: BcsSettings) -> None:
    """Validate this plugin's ``[plugins.<name>]`` table.

    Called by ``bcs config check`` and by ``bcs serve`` before anything starts. Read your table with
    ``settings.plugin_config("<name>")`` and raise :class:`bcs.errors.ConfigError` with one line naming
    the key and ``settings.source`` when it is invalid.

    :param settings: the whole settings tree.
    """


@hookspec
def bcs_register_routes(settings: BcsSettings) -> list[web.RouteDef] | None:
    """Return aiohttp route definitions to add to the server.

    Called once while the application is built. Module APIs go under ``/bcsapi/v4/<module>/``.

    :param settings: the whole settings tree.
    :returns: a list of ``web.RouteDef`` (``web.get(...)``, ``web.post(...)``...), or None.
    """


@hookspec
def bcs_register_tasks(app: web.Application) -> list[TaskSpec] | None:
    """Return background tasks to run for the life of the server.

    Called during startup, after the ports and backends are up. Each :class:`TaskSpec` names a
    coroutine factory; the core starts it as a guarded task and cancels it at shutdown.

    :param app: the application, to read typed keys from (``app[bcs.keys.KV]``...).
    :returns: a list of :class:`bcs.core.tasks.TaskSpec`, or None.
    """


@hookspec
def bcs_startup(app: web.Application) -> object:
    """Run once at startup after the ports and backends are up; may return an awaitable.

    Raise :class:`bcs.errors.StartupError` to refuse to start.

    :param app: the application.
    """


@hookspec
def bcs_register_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add sub-commands to the ``bcs`` command line.

    Called while the command line is parsed. Add a parser with ``subparsers.add_parser(name)`` and set
    ``parser.set_defaults(handler=fn)`` where ``fn(args) -> int`` returns the exit code.

    :param subparsers: the ``bcs`` sub-command collection.
    """


@hookspec(firstresult=True)
def bcs_backend_for_cluster(cluster: Cluster) -> str | None:
    """Name the backend that serves ``cluster`` (e.g. ``"k8s"``), or None to let others answer.

    Stops at the first non-None result (firstresult). The built-in fallback (trylast) picks the
    backend whose ``engines`` include the cluster's engine type.

    :param cluster: the registered cluster.
    """
