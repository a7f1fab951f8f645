"""Service endpoints in the KV port: how a Mesos driver registers itself and how the gateway finds it.

Upstream bk-bcs modules announce themselves under ``/bcs/services/endpoints/<module>/<clusterID>/<ip>``
(ZooKeeper there; the KV port here) with a JSON ``ServerInfo`` value. :class:`Registration` keeps one
such key alive on a lease and writes it again if it disappears (upstream re-registers after 3 s);
:class:`ServiceView` is a live, watch-fed picture of one module's endpoints, by cluster.

Keys sit under ``KvSettings.prefix`` (``/bcs/`` by default, so the default path is upstream's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from bcs import errors
from bcs.core import kv, tasks

__all__ = ["ENDPOINTS", "MESOS_DRIVER", "Registration", "ServerInfo", "ServiceView", "endpoint_key"]

logger = logging.getLogger(__name__)

ENDPOINTS = "services/endpoints/"
MESOS_DRIVER = "mesosdriver"


@attrs.frozen
class ServerInfo:
    """Upstream ``ServerInfo`` (``MesosDriverServInfo``): where one instance of a module answers."""

    ip: str
    port: int = 0
    ipv6: str = ""
    grpc_port: int = 0
    metric_port: int = 0
    hostname: str = ""
    scheme: str = "http"
    version: str = ""
    cluster: str = ""
    pid: int = 0
    external_ip: str = ""
    external_ipv6: str = ""
    external_port: int = 0

    @property
    def url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{host}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerInfo:
        names = {f.name for f in attrs.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as e:
            raise errors.BadRequest(f"invalid server info: {e}") from None


def endpoint_key(prefix: str, module: str, cluster_id: str, ip: str) -> str:
    """``<prefix>services/endpoints/<module>/<clusterID>/<ip>``."""
    for part, what in ((module, "module"), (cluster_id, "cluster id"), (ip, "ip")):
        if not part or "/" in part:
            raise errors.BadRequest(f"invalid endpoint {what} {part!r}")
    return f"{prefix}{ENDPOINTS}{module}/{cluster_id}/{ip}"


class Registration:
    """One endpoint kept registered on a lease; ``async with Registration(...)`` or start()/close()."""

    def __init__(
        self,
        store: kv.KV,
        *,
        prefix: str,
        module: str,
        info: ServerInfo,
        ttl: int = 10,
        reregister_delay: float = 3.0,
    ) -> None:
        self.key = endpoint_key(prefix, module, info.cluster, info.ip)
        self._kv = store
        self._value = orjson.dumps(info.to_json())
        self._ttl = ttl
        self._delay = reregister_delay
        self._lease = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self.registrations = 0  # how many times the key was written (1 + re-registrations)

    async def _register(self) -> None:
        lease = await self._kv.grant_lease(self._ttl)
        await self._kv.put(self.key, self._value, lease=lease.id)
        self._lease = lease.id
        self.registrations += 1

    async def start(self) -> Registration:
        revision = await self._kv.revision()
        await self._register()
        name = f"discovery:{self.key}"
        self._tasks = [
            tasks.create_guarded_task(name=f"{name}:keepalive", coro=self._keep_alive()),
            tasks.create_guarded_task(name=f"{name}:watch", coro=self._watch(revision + 1)),
        ]
        return self

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(max(self._ttl / 3, 0.2))
            try:
                await self._kv.refresh_lease(self._lease)
            except errors.NotFound:
                logger.warning("endpoint %s: lease expired; registering again", self.key)
                await self._register()
            except errors.PortUnavailable as e:
                logger.warning("endpoint %s: keep-alive failed: %s", self.key, e.message)

    async def _watch(self, start: int) -> None:
        while True:
            try:
                async for event in self._kv.watch_prefix(self.key, start_revision=start):
                    start = event.revision + 1
                    if event.key == self.key and event.type == "delete":
                        await asyncio.sleep(self._delay)
                        if await self._kv.get(self.key) is None:
                            logger.warning("endpoint %s vanished; registering again", self.key)
                            await self._register()
            except kv.RevisionCompacted as e:
                start = e.compact_revision
            except errors.PortUnavailable as e:
                logger.warning("endpoint %s: watch failed: %s", self.key, e.message)
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        """Stop keeping it alive and remove it (revoking the lease deletes the key)."""
        await tasks.stop_tasks(self._tasks)
        self._tasks = []
        if self._lease:
            with contextlib.suppress(errors.BcsError):
                await self._kv.revoke_lease(self._lease)
            self._lease = 0

    async def __aenter__(self) -> Registration:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ServiceView:
    """The live endpoints of one module, by cluster id; run :meth:`follow` as a background task."""

    def __init__(self, store: kv.KV, *, prefix: str, module: str) -> None:
        self._kv = store
        self._prefix = f"{prefix}{ENDPOINTS}{module}/"
        self._endpoints: dict[str, dict[str, ServerInfo]] = {}
        self.revision = 0  # last change applied (lets tests wait for a write to be seen)

    def endpoints(self, cluster_id: str) -> list[ServerInfo]:
        """The registered instances of ``cluster_id``, sorted by ip."""
        return [info for _, info in sorted(self._endpoints.get(cluster_id, {}).items())]

    def clusters(self) -> list[str]:
        return sorted(c for c, found in self._endpoints.items() if found)

    def _apply(self, key: str, value: bytes | None) -> None:
        rest = key[len(self._prefix) :]
        cluster_id, _, ip = rest.partition("/")
        if not cluster_id or not ip or "/" in ip:
            return  # the cluster's own node, or a deeper key of someone else
        if value is None:
            self._endpoints.get(cluster_id, {}).pop(ip, None)
            return
        try:
            info = ServerInfo.from_json(orjson.loads(value))
        except (orjson.JSONDecodeError, errors.BcsError, AttributeError) as e:
            logger.warning("endpoint %s is unreadable: %s", key, e)
            return
        self._endpoints.setdefault(cluster_id, {})[ip] = info

    async def resync(self) -> int:
        revision = await self._kv.revision()
        self._endpoints = {}
        for item in await self._kv.range(self._prefix):
            self._apply(item.key, item.value)
        self.revision = revision
        return revision + 1

    async def follow(self) -> None:
        """Forever: list, then apply the watch; re-list after compaction or an outage."""
        delay = 0.5
        while True:
            try:
                start = await self.resync()
                delay = 0.5
                async for event in self._kv.watch_prefix(self._prefix, start_revision=start):
                    self._apply(event.key, event.value if event.type == "put" else None)
                    self.revision = event.revision
            except kv.RevisionCompacted:
                continue
            except errors.PortUnavailable as e:
                logger.warning("endpoints %s: %s; retrying in %.1fs", self._prefix, e.message, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
