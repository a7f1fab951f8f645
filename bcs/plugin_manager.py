"""The plugin manager, built in a function (never at import time), and its typed façade.

Built-in plugins are the modules in :data:`DEFAULT_PLUGINS`; third-party ones come from the ``bcs``
entry-point group. Both go through the same ``pm.register`` call and the same ``hookimpl`` marker.
Any plugin can be switched off by name from ``[plugins] disabled`` (or restricted with ``enabled``).

(DESIGN.md names this module ``bcs/plugins.py``; a module cannot share its name with the
``bcs/plugins/`` package that holds the built-in plugins, hence ``plugin_manager``.)
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

import bcs
from bcs import errors, hookspecs
from bcs.core import backend as backend_mod
from bcs.core import tasks

if TYPE_CHECKING:
    from aiohttp import web

    from bcs.config import BcsSettings
    from bcs.core.registry import Cluster

__all__ = ["DEFAULT_PLUGINS", "BcsPlugins", "make_plugin_manager"]

# name -> module; the name is what `[plugins] disabled` and `[plugins.<name>]` refer to.
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("k8s", "bcs.plugins.k8s.plugin"),
    ("mesos", "bcs.plugins.mesos.plugin"),
    ("federation", "bcs.plugins.federation.plugin"),
    ("core", "bcs.plugins.defaults"),
)
ESSENTIAL_PLUGINS = frozenset({"core"})  # cannot be blocked


class BcsPlugins:
    """One typed method per hook, so the rest of bcs never spreads ``pm.hook.*`` calls around."""

    def __init__(self, manager: pluggy.PluginManager, *, blocked: Iterable[str] = ()) -> None:
        self.manager = manager
        self.blocked = frozenset(blocked)

    def names(self) -> list[str]:
        """Registered plugin names, in registration order."""
        return [name for name, plugin in self.manager.list_name_plugin() if plugin is not None]

    def register_backends(self, registry: backend_mod.BackendRegistry) -> None:
        # Call each implementation on its own so the registry knows which plugin adds what
        # (duplicate names are reported with both plugins). Same order as pluggy: last registered first.
        for impl in reversed(self.manager.hook.bcs_register_backends.get_hookimpls()):
            registry.current_plugin = impl.plugin_name
            impl.function(registry=registry)
        registry.current_plugin = "<unknown>"

    def check_config(self, settings: BcsSettings) -> None:
        known = set(self.names()) | self.blocked  # a disabled plugin may keep its table
        for name in settings.plugins.sections:
            if name not in known:
                raise errors.ConfigError(
                    f"{settings.source}: plugins.{name}: no plugin named {name!r} "
                    f"(plugins: {', '.join(sorted(known))})"
                )
        self.manager.hook.bcs_check_config(settings=settings)

    def register_routes(self, settings: BcsSettings) -> list[web.RouteDef]:
        results = self.manager.hook.bcs_register_routes(settings=settings)
        return [route for batch in results if batch for route in batch]

    def register_tasks(self, app: web.Application) -> list[tasks.TaskSpec]:
        results = self.manager.hook.bcs_register_tasks(app=app)
        return [spec for batch in results if batch for spec in batch]

    def startup(self, app: web.Application) -> list[Any]:
        """Raw hook results; resolve each with ``await_me_maybe``."""
        return list(self.manager.hook.bcs_startup(app=app))

    def register_commands(self, subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
        self.manager.hook.bcs_register_commands(subparsers=subparsers)

    def backend_for_cluster(self, cluster: Cluster) -> str | None:
        return self.manager.hook.bcs_backend_for_cluster(cluster=cluster)


def make_plugin_manager(
    *,
    enabled: Iterable[str] = (),
    disabled: Iterable[str] = (),
    load_entrypoints: bool = True,
    extra: Iterable[tuple[str, object]] = (),
) -> BcsPlugins:
    """Build a fresh plugin manager: built-ins, then entry points, then ``extra`` (tests).

    ``enabled`` (when non-empty) keeps only those plugins plus the essential ones; ``disabled`` blocks
    plugins by name. A hookimpl that matches no hookspec fails here (``check_pending``).
    """
    pm = pluggy.PluginManager(bcs.NAME)
    pm.add_hookspecs(hookspecs)
    enabled = set(enabled)
    blocked = set(disabled) - ESSENTIAL_PLUGINS
    if enabled:
        blocked |= {name for name, _ in DEFAULT_PLUGINS if name not in enabled} - ESSENTIAL_PLUGINS
    for name in blocked:
        pm.set_blocked(name)
    for name, module in DEFAULT_PLUGINS:
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module), name=name)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(bcs.NAME)
        if enabled:
            for name, plugin in pm.list_name_plugin():
                if name not in enabled and name not in dict(DEFAULT_PLUGINS):
                    pm.unregister(plugin=plugin, name=name)
    for name, plugin in extra:
        pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        raise errors.StartupError(f"plugin {e.plugin!r}: {e}") from None
    return BcsPlugins(pm, blocked=blocked)
