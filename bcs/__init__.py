"""bcs: one gateway, one synced store and one change bus for many Kubernetes and Mesos clusters.

This module is the public surface for plugin authors: the ``hookimpl`` marker, the error base classes
and the backend contract. It is the one place in the package that imports individual names (everywhere
else modules are imported and used qualified).

A third-party plugin is a module with ``@bcs.hookimpl`` functions, published under the ``bcs``
entry-point group::

    [options.entry_points]
    bcs =
        myplugin = myplugin.hooks
"""

from __future__ import annotations

import pluggy

from bcs.core.backend import Backend, BackendContext, BackendRegistry
from bcs.errors import BadRequest, BcsError, ConfigError, NotFound, StartupError

__all__ = [
    "NAME",
    "BadRequest",
    "Backend",
    "BackendContext",
    "BackendRegistry",
    "BcsError",
    "ConfigError",
    "NotFound",
    "StartupError",
    "__version__",
    "hookimpl",
]

__version__ = "0.1.0"
NAME = "bcs"
hookimpl = pluggy.HookimplMarker(NAME)
