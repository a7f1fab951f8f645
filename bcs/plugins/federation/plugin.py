"""Hook implementations of the ``federation`` plugin and its ``[plugins.federation]`` settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

import bcs
from bcs import config
from bcs.core import backend

if TYPE_CHECKING:
    from bcs.config import BcsSettings

__all__ = ["FederationBackend", "FederationSettings", "bcs_check_config", "bcs_register_backends"]


@attrs.frozen
class FederationSettings:
    """``[plugins.federation]``."""

    host_cluster: str = ""  # id of the cluster holding Federated* objects; empty = federation off


class FederationBackend(backend.Backend):
    """Propagation from a host cluster to member clusters; serves no engine of its own."""

    engines = ()

    @staticmethod
    def name() -> str:
        return "federation"


@bcs.hookimpl
def bcs_register_backends(registry: backend.BackendRegistry) -> None:
    registry.add(FederationBackend)


@bcs.hookimpl
def bcs_check_config(settings: BcsSettings) -> None:
    config.build_section(
        FederationSettings,
        settings.plugin_config("federation"),
        source=settings.source,
        path="plugins.federation",
    )
