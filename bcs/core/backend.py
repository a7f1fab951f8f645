"""The backend contract: an orchestration engine (Kubernetes, Mesos, federation) as a class.

Plugins register backend classes into a :class:`BackendRegistry` from the ``bcs_register_backends``
hook (tox's ``ToxEnvRegister``). Hooks stay synchronous and cheap; the lifecycle methods of a backend
are async and awaited directly by the core.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from bcs import errors

if TYPE_CHECKING:
    from aiohttp import web

    from bcs.config import BcsSettings
    from bcs.core import registry as registry_mod
    from bcs.core.bus import Bus
    from bcs.core.kv import KV

__all__ = ["Backend", "BackendContext", "BackendRegistry"]


@attrs.frozen
class BackendContext:
    """What a backend gets to work with; the store is typed loosely because it lives above the core."""

    settings: BcsSettings
    kv: KV
    bus: Bus
    clusters: registry_mod.ClusterRegistry
    store: Any = None
    config: Mapping[str, Any] = attrs.field(factory=dict)  # the plugin's own [plugins.<name>] table
    storage: Any = None  # the storage service of this process (bcs.storage.service.core.StorageService)
    metrics: Any = None  # the application's prometheus CollectorRegistry (served on /metrics)


class Backend(abc.ABC):
    """One orchestration engine. Subclasses set ``engines`` to the cluster engine types they serve."""

    engines: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: BackendContext) -> None:
        self.context = context

    @staticmethod
    @abc.abstractmethod
    def name() -> str:
        """The registry key, e.g. ``"k8s"``."""

    async def start(self) -> None:  # noqa: B027 - optional lifecycle step
        """Called once the ports are up, before the server accepts requests."""

    async def close(self) -> None:  # noqa: B027 - optional lifecycle step
        """Called at shutdown, in reverse registration order."""

    async def attach_cluster(self, cluster: registry_mod.Cluster) -> None:  # noqa: B027
        """A cluster of one of ``engines`` appeared (or changed) in the registry."""

    async def detach_cluster(self, cluster_id: str) -> None:  # noqa: B027
        """A cluster of one of ``engines`` was removed from the registry."""

    async def handle_request(self, cluster: registry_mod.Cluster, request: web.Request) -> web.StreamResponse:
        """Answer a cluster-scoped API request the gateway routed here (``/bcsapi/v4/scheduler/mesos/...``
        by its ``BCS-ClusterID`` header); the default serves none."""
        raise errors.NotFound(f"backend {self.name()} serves no HTTP API for cluster {cluster.clusterID}")


@attrs.define
class BackendRegistry:
    """Backend classes by name, filled through ``bcs_register_backends``."""

    _classes: dict[str, type[Backend]] = attrs.field(factory=dict, init=False)
    _owners: dict[str, str] = attrs.field(factory=dict, init=False)
    current_plugin: str = attrs.field(default="<unknown>", init=False)

    def add(self, backend: type[Backend]) -> None:
        if not (isinstance(backend, type) and issubclass(backend, Backend)):
            raise errors.StartupError(f"plugin {self.current_plugin}: {backend!r} is not a Backend subclass")
        key = backend.name()
        if key in self._classes:
            raise errors.StartupError(
                f"duplicate backend name {key!r}: registered by plugin {self._owners[key]!r} "
                f"and by plugin {self.current_plugin!r}"
            )
        self._classes[key] = backend
        self._owners[key] = self.current_plugin

    def get(self, name: str) -> type[Backend]:
        try:
            return self._classes[name]
        except KeyError:
            raise errors.NotFound(f"no backend named {name!r}") from None

    def for_engine(self, engine: str) -> list[type[Backend]]:
        return [cls for cls in self._classes.values() if engine in cls.engines]

    def owner(self, name: str) -> str:
        return self._owners[name]

    def __iter__(self) -> Iterator[type[Backend]]:
        return iter(self._classes.values())

    def __len__(self) -> int:
        return len(self._classes)

    def names(self) -> list[str]:
        return list(self._classes)
