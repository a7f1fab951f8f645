"""Hook implementations of the ``mesos`` plugin and its ``[plugins.mesos]`` settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

import bcs
from bcs import config
from bcs.core import backend

if TYPE_CHECKING:
    from bcs.config import BcsSettings

__all__ = ["MesosBackend", "MesosSettings", "bcs_check_config", "bcs_register_backends"]


@attrs.frozen
class MesosSettings:
    """``[plugins.mesos]``."""

    masters: tuple[str, ...] = attrs.field(default=(), converter=tuple)  # master URLs
    framework_name: str = "bcs"
    failover_timeout: float = 7 * 24 * 3600.0  # seconds the master keeps our tasks after we vanish


class MesosBackend(backend.Backend):
    """Mesos clusters (engine type ``mesos``)."""

    engines = ("mesos",)

    @staticmethod
    def name() -> str:
        return "mesos"


@bcs.hookimpl
def bcs_register_backends(registry: backend.BackendRegistry) -> None:
    registry.add(MesosBackend)


@bcs.hookimpl
def bcs_check_config(settings: BcsSettings) -> None:
    config.build_section(
        MesosSettings, settings.plugin_config("mesos"), source=settings.source, path="plugins.mesos"
    )
