"""Hook implementations of the ``k8s`` plugin and its ``[plugins.k8s]`` settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

import bcs
from bcs import config
from bcs.core import backend

if TYPE_CHECKING:
    from bcs.config import BcsSettings

__all__ = ["K8sBackend", "K8sSettings", "bcs_check_config", "bcs_register_backends"]

OPERATORS = ("gamedeployment", "gamestatefulset", "hook")


@attrs.frozen
class K8sSettings:
    """``[plugins.k8s]``."""

    operators: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, validator=attrs.validators.deep_iterable(attrs.validators.in_(OPERATORS))
    )  # operators run for every registered cluster
    watch: bool = True  # run the data watch for every registered Kubernetes cluster


class K8sBackend(backend.Backend):
    """Kubernetes clusters (engine type ``k8s``)."""

    engines = ("k8s",)

    @staticmethod
    def name() -> str:
        return "k8s"


def load_settings(settings: BcsSettings) -> K8sSettings:
    return config.build_section(
        K8sSettings, settings.plugin_config("k8s"), source=settings.source, path="plugins.k8s"
    )


@bcs.hookimpl
def bcs_register_backends(registry: backend.BackendRegistry) -> None:
    registry.add(K8sBackend)


@bcs.hookimpl
def bcs_check_config(settings: BcsSettings) -> None:
    load_settings(settings)
