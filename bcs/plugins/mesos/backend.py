"""``MesosBackend``: one elected framework scheduler (and its data watch) per Mesos cluster.

Mesos clusters come from the registry (``engineType = mesos``, declared in config or created through
the cluster manager). A cluster's masters are ``cluster.extra["masters"]`` (a list or a comma
string), else ``[plugins.mesos] masters``. For each cluster this process campaigns for leadership
on the KV port; the leader runs the scheduler and the data watch, answers the driver API and
registers itself as the cluster's Mesos driver in the KV port (:mod:`.endpoint`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import attrs
from aiohttp import web

from bcs import config, errors
from bcs.core import backend, discovery, registry
from bcs.core import tasks as tasks_mod
from bcs.core.offers import pool
from bcs.plugins.mesos import driver, election, endpoint, scheduler, watch

__all__ = ["ClusterRunner", "MesosBackend", "MesosSettings"]

logger = logging.getLogger(__name__)


@attrs.frozen
class MesosSettings:
    """``[plugins.mesos]``."""

    masters: tuple[str, ...] = attrs.field(default=(), converter=tuple)  # master URLs
    framework_name: str = "bcs"
    failover_timeout: float = 7 * 24 * 3600.0  # seconds the master keeps our tasks after we vanish
    tick: float = 1.0  # seconds between scheduler passes when nothing wakes it
    offer_lifetime: float = 240.0  # seconds an offer stays usable
    lost_agent_grace: float = 180.0  # seconds a lost agent's offers are refused
    election_ttl: int = 10  # seconds of the leader lease
    watch_interval: float = 1.0  # seconds between data-watch syncs into storage
    watch_refresh: float = 240.0  # forced re-PUT period (upstream)
    driver_register: bool = True  # register as the cluster's Mesos driver while leading it
    # http(s)://ip:port other gateways reach this driver at; "" = [server] host, port and tls
    driver_address: str = attrs.field(default="", validator=lambda _s, _a, v: v and endpoint.parse_address(v))
    driver_ttl: int = 10  # seconds of the driver endpoint's lease
    driver_reregister_delay: float = 3.0  # seconds before a vanished endpoint is written again

    def scheduler_settings(self) -> scheduler.SchedulerSettings:
        return scheduler.SchedulerSettings(
            framework_name=self.framework_name,
            failover_timeout=self.failover_timeout,
            tick=self.tick,
            pool=pool.PoolSettings(lifetime=self.offer_lifetime, lost_grace=self.lost_agent_grace),
        )


def masters_of(cluster: registry.Cluster, settings: MesosSettings) -> list[str]:
    raw = cluster.extra.get("masters")
    if isinstance(raw, str):
        raw = [m for m in raw.split(",") if m.strip()]
    return list(raw or settings.masters)


class ClusterRunner:
    """Campaign for one cluster; while leader, run its scheduler and data watch."""

    def __init__(
        self, cluster: registry.Cluster, *, context: backend.BackendContext, settings: MesosSettings
    ):
        self.cluster = cluster
        self.context = context
        self.settings = settings
        self.scheduler: scheduler.Scheduler | None = None
        self.watch: watch.DataWatch | None = None
        self.registration: discovery.Registration | None = None
        self._watch_task: asyncio.Task[None] | None = None
        prefix = context.settings.kv.prefix
        identity = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self.election = election.Election(
            context.kv,
            f"{prefix}mesos/{cluster.clusterID}/scheduler/leader",
            identity,
            ttl=settings.election_ttl,
            on_elected=self._elected,
            on_deposed=self._deposed,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = tasks_mod.create_guarded_task(
            name=f"mesos.{self.cluster.clusterID}.election", coro=self.election.run()
        )

    async def close(self) -> None:
        if self._task is not None:
            await tasks_mod.cancel_and_wait(self._task)
        await self._deposed()

    async def _elected(self) -> None:
        masters = masters_of(self.cluster, self.settings)
        if not masters:
            logger.warning("mesos cluster %s has no masters configured", self.cluster.clusterID)
            return
        sched = scheduler.Scheduler(
            cluster_id=self.cluster.clusterID,
            masters=masters,
            kv=self.context.kv,
            prefix=self.context.settings.kv.prefix,
            settings=self.settings.scheduler_settings(),
        )
        await sched.start()
        self.scheduler = sched
        storage = getattr(self.context, "storage", None)
        if storage is not None:
            self.watch = watch.DataWatch(
                sched, storage, interval=self.settings.watch_interval, refresh=self.settings.watch_refresh
            )
            self._watch_task = tasks_mod.create_guarded_task(
                name=f"mesos.{self.cluster.clusterID}.datawatch", coro=self.watch.run()
            )
        await self._register()

    async def _register(self) -> None:
        """Announce this process as the cluster's Mesos driver (bk-bcs §1.6), while it leads."""
        if not self.settings.driver_register:
            return
        info = endpoint.driver_info(
            self.cluster.clusterID,
            driver_address=self.settings.driver_address,
            server=self.context.settings.server,
        )
        if info is None:
            logger.warning(
                "mesos cluster %s: not registered as its driver: [server] port 0 is only known once "
                "listening; set [plugins.mesos] driver_address",
                self.cluster.clusterID,
            )
            return
        self.registration = discovery.Registration(
            self.context.kv,
            prefix=self.context.settings.kv.prefix,
            module=discovery.MESOS_DRIVER,
            info=info,
            ttl=self.settings.driver_ttl,
            reregister_delay=self.settings.driver_reregister_delay,
        )
        await self.registration.start()

    async def _deposed(self) -> None:
        if self.registration is not None:
            registration, self.registration = self.registration, None
            await registration.close()
        if self._watch_task is not None:
            # A watch that crashed was logged by its guard; stopping the scheduler must go on.
            await tasks_mod.cancel_and_wait(self._watch_task)
            self._watch_task = None
        if self.scheduler is not None:
            sched, self.scheduler = self.scheduler, None
            await sched.stop()


class MesosBackend(backend.Backend):
    """Mesos clusters (engine type ``mesos``)."""

    engines = ("mesos",)

    def __init__(self, context: backend.BackendContext) -> None:
        super().__init__(context)
        self.settings = config.build_section(
            MesosSettings, context.config, source=context.settings.source, path="plugins.mesos"
        )
        self.runners: dict[str, ClusterRunner] = {}
        self._follow: asyncio.Task[None] | None = None

    @staticmethod
    def name() -> str:
        return "mesos"

    async def start(self) -> None:
        self._follow = tasks_mod.create_guarded_task(name="mesos.clusters", coro=self._follow_registry())

    async def close(self) -> None:
        if self._follow is not None:
            await tasks_mod.cancel_and_wait(self._follow)
        for runner in list(self.runners.values()):
            await runner.close()
        self.runners.clear()

    async def _follow_registry(self) -> None:
        clusters = self.context.clusters
        while True:
            try:
                revision = await clusters.revision()
                for cluster in await clusters.list_clusters({"engineType": "mesos"}):
                    await self.attach_cluster(cluster)
                async for event in clusters.watch(start_revision=revision + 1):
                    if event.kind != "cluster":
                        continue
                    if event.type == "put" and event.cluster and event.cluster.engineType == "mesos":
                        await self.attach_cluster(event.cluster)
                    elif event.type == "delete":
                        await self.detach_cluster(event.id)
            except errors.BcsError as e:
                logger.warning("mesos backend: following the registry failed: %s", e)
                await asyncio.sleep(1.0)

    async def attach_cluster(self, cluster: registry.Cluster) -> None:
        current = self.runners.get(cluster.clusterID)
        if current is not None:
            if masters_of(current.cluster, self.settings) == masters_of(cluster, self.settings):
                return
            await self.detach_cluster(cluster.clusterID)
        runner = ClusterRunner(cluster, context=self.context, settings=self.settings)
        self.runners[cluster.clusterID] = runner
        runner.start()

    async def detach_cluster(self, cluster_id: str) -> None:
        runner = self.runners.pop(cluster_id, None)
        if runner is not None:
            await runner.close()

    def scheduler_for(self, cluster_id: str) -> scheduler.Scheduler:
        runner = self.runners.get(cluster_id)
        if runner is not None and not masters_of(runner.cluster, self.settings):
            raise errors.NotFound(
                f"backend mesos serves no HTTP API for cluster {cluster_id}: no Mesos masters configured"
            )
        if runner is None or runner.scheduler is None:
            raise errors.BackendUnavailable(
                f"cluster {cluster_id}: this process does not lead its Mesos scheduler (yet)"
            )
        return runner.scheduler

    async def handle_request(self, cluster: registry.Cluster, request: web.Request) -> web.StreamResponse:
        sched = self.scheduler_for(cluster.clusterID)
        return await driver.dispatch(sched, request, request.match_info.get("path", ""))
