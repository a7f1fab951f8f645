"""``[plugins.k8s]``: the Kubernetes plugin's settings (operators, the data watch and its section)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from bcs import config
from bcs.plugins.k8s.datawatch import settings as datawatch_settings

if TYPE_CHECKING:
    from bcs.config import BcsSettings

__all__ = ["OPERATORS", "K8sSettings", "load_settings"]

OPERATORS = ("gamedeployment", "gamestatefulset", "hook")


@attrs.frozen
class K8sSettings:
    """``[plugins.k8s]``."""

    operators: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, validator=attrs.validators.deep_iterable(attrs.validators.in_(OPERATORS))
    )  # operators run for every registered cluster
    watch: bool = True  # run the data watch for every registered Kubernetes cluster
    # [plugins.k8s.data_watch]: kinds, filters, masks, diff interval, writers, ownership lease TTL
    data_watch: datawatch_settings.DataWatchSettings = attrs.field(
        factory=datawatch_settings.DataWatchSettings
    )


def load_settings(settings: BcsSettings) -> K8sSettings:
    return config.build_section(
        K8sSettings, settings.plugin_config("k8s"), source=settings.source, path="plugins.k8s"
    )
