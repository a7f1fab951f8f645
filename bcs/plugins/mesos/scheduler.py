"""The framework scheduler of one Mesos cluster: offers in, LAUNCH_GROUPs out, state on the KV port.

Level-triggered: every pass (on a wake-up or each ``tick`` seconds) compares what the applications
want (instances 0..n-1, minus those waiting out a restart delay) with the taskgroups on record,
places the missing ones from the offer pool (:mod:`.launching`), kills the surplus, highest index
first (:mod:`.kills`), advances rolling deployments (:mod:`.rolling`) and derives statuses
(:mod:`.transitions`). A taskgroup is written to the KV port before its ACCEPT is sent; after a
restart the scheduler reconciles every known task with the master (:mod:`.events`), so it never
launches a taskgroup twice.

This module holds the scheduler's in-memory picture, its lifecycle and the user operations; the
other modules act on a :class:`Scheduler` passed to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any

import attrs

from bcs import errors
from bcs.core import kv as kv_mod
from bcs.core import tasks as tasks_mod
from bcs.core.offers import constraints, placement, pool
from bcs.plugins.mesos import (
    client,
    events,
    inplace,
    kills,
    launching,
    objects,
    records,
    rolling,
    store,
    transitions,
    wire,
)

__all__ = ["Scheduler", "SchedulerSettings"]

logger = logging.getLogger(__name__)


@attrs.frozen
class SchedulerSettings:
    framework_name: str = "bcs"
    failover_timeout: float = 7 * 24 * 3600.0
    role: str = "*"
    tick: float = 1.0  # s between passes when nothing wakes the scheduler
    flush_interval: float = 0.05  # s between state flushes to the KV port
    refuse_seconds: float = 0.2  # filters on ACCEPT (what is left of an offer comes back soon)
    reconcile_interval: float = 600.0  # s between implicit reconciliations
    kill_retry: float = 10.0  # s before a KILL without effect is sent again
    missed_heartbeats: float = 5.0
    backoff_max: float = 15.0
    pool: pool.PoolSettings = attrs.field(factory=pool.PoolSettings)


class Scheduler:
    def __init__(
        self,
        *,
        cluster_id: str,
        masters: Sequence[str],
        kv: kv_mod.KV,
        prefix: str,
        settings: SchedulerSettings | None = None,
    ) -> None:
        self.cluster_id = cluster_id
        self.masters = list(masters)
        self.settings = settings or SchedulerSettings()
        self.store = store.StateStore(kv, prefix=prefix, cluster_id=cluster_id)
        self.pool = pool.OfferPool(self.settings.pool)
        self.index = constraints.Index()
        self.apps: dict[tuple[str, str], records.Application] = {}
        self.app_tgs: dict[tuple[str, str], dict[str, records.TaskGroup]] = {}
        self.taskgroups: dict[str, records.TaskGroup] = {}
        self.task_index: dict[str, str] = {}  # task id -> taskgroup id
        self.deployments: dict[tuple[str, str], records.Deployment] = {}
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (kind, ns, name) -> JSON
        self.client: client.SchedulerClient | None = None
        self.suppressed = False
        self.passes = 0
        self.launched = 0
        self.decision_times: list[float] = []  # s spent placing per pass (offer-decision latency)
        self.id_stamp = 0  # the last millisecond stamp given to a taskgroup id (kept increasing)
        self.last_reconcile = 0.0  # wall time of the last RECONCILE
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._side: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.load()
        info = {
            "user": "root",
            "name": self.settings.framework_name,
            "failover_timeout": self.settings.failover_timeout,
            "checkpoint": True,
            "role": self.settings.role,
            "capabilities": [{"type": "TASK_KILLING_STATE"}],
        }
        self.client = client.SchedulerClient(
            self.masters,
            info,
            on_event=functools.partial(events.on_event, self),
            framework_id=await self.store.framework_id(),
            on_subscribed=functools.partial(events.on_subscribed, self),
            missed_heartbeats=self.settings.missed_heartbeats,
            backoff_max=self.settings.backoff_max,
        )
        name = f"mesos.{self.cluster_id}"
        self._tasks = [
            tasks_mod.create_guarded_task(name=f"{name}.subscription", coro=self.client.run()),
            tasks_mod.create_guarded_task(name=f"{name}.passes", coro=self._loop()),
            tasks_mod.create_guarded_task(name=f"{name}.flusher", coro=self._flusher()),
        ]

    async def stop(self) -> None:
        await tasks_mod.cancel_and_wait(*self._tasks)
        if self._side:  # in-flight calls finish (not cancelled)
            done, _ = await asyncio.wait(list(self._side))
            for task in done:
                failed = None if task.cancelled() else task.exception()
                if failed is not None:
                    logger.warning("mesos %s: a call failed while stopping: %s", self.cluster_id, failed)
        self._tasks = []
        with contextlib.suppress(errors.PortUnavailable):
            await self.store.flush()
        if self.client is not None:
            await self.client.close()

    def wake(self) -> None:
        self._wake.set()

    def send(self, kind: str, payload: dict[str, Any]) -> None:
        """A call to the master in the background (its failure is logged, not raised)."""
        self.spawn(self.call(kind, payload))

    def decline(self, offer_ids: list[str]) -> None:
        filters = {"refuse_seconds": self.settings.refuse_seconds}
        self.send("DECLINE", {"offer_ids": wire.offer_ids(offer_ids), "filters": filters})

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` beside the passes; :meth:`stop` awaits whatever is still running."""
        task = asyncio.get_running_loop().create_task(coro)
        self._side.add(task)
        task.add_done_callback(self._side.discard)

    async def call(self, kind: str, payload: dict[str, Any] | None = None) -> bool:
        """Send one call to the master now; False (logged) when there is no master to take it."""
        if self.client is None:
            return False
        try:
            await self.client.call(kind, payload)
            return True
        except errors.BackendUnavailable as e:
            logger.info("mesos %s: %s not sent: %s", self.cluster_id, kind, e)
            return False

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_interval)
            try:
                await self.store.flush()
            except errors.PortUnavailable as e:
                logger.warning("mesos %s: state flush failed: %s", self.cluster_id, e)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.tick):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.run_pass()
            except errors.BcsError as e:
                logger.warning("mesos %s: pass failed: %s", self.cluster_id, e)

    # -- state ---------------------------------------------------------------------------------

    async def load(self) -> None:
        """Rebuild the in-memory picture from the KV port (before subscribing)."""
        for rel, data in sorted((await self.store.load()).items()):
            parts = rel.split("/")
            if parts[0] == "application" and len(parts) == 3:
                app = records.Application.from_json(data, name=parts[2])
                self.put_app(app, save=False)
            elif parts[0] == "application" and len(parts) == 4:
                tg = records.TaskGroup.from_json(data)
                self.add_tg(tg, save=False)
            elif parts[0] == "deployment" and len(parts) == 3:
                dep = records.Deployment.from_json(data)
                self.deployments[(dep.spec.namespace, dep.spec.name)] = dep
            elif parts[0] in ("configmap", "secret", "service") and len(parts) == 3:
                self.objects[(parts[0], parts[1], parts[2])] = data
        for agent_id in {tg.agent_id for tg in self.taskgroups.values() if tg.delta}:
            inplace.sync_agent(self, agent_id)

    def put_app(self, app: records.Application, *, save: bool = True) -> None:
        key = (app.namespace, app.name)
        self.apps[key] = app
        self.app_tgs.setdefault(key, {})
        if save:
            self.save_app(app)

    def save_app(self, app: records.Application) -> None:
        app.updated = time.time()
        self.store.put(self.store.app_key(app.namespace, app.name), app.to_json())

    def save_version(self, app: records.Application) -> None:
        """Keep the definition ``app`` runs at its current version (the version history)."""
        spec = app.spec
        self.store.put(
            self.store.key("version", spec.namespace, f"{spec.name}/{app.version}"), dict(spec.raw)
        )

    def save_tg(self, tg: records.TaskGroup) -> None:
        self.store.put(self.store.taskgroup_key(tg.namespace, tg.app, tg.id), tg.to_json())

    def add_tg(self, tg: records.TaskGroup, *, save: bool = True) -> None:
        self.taskgroups[tg.id] = tg
        self.app_tgs.setdefault((tg.namespace, tg.app), {})[tg.id] = tg
        for task_id in tg.tasks:
            self.task_index[task_id] = tg.id
        if not tg.terminal and tg.agent_id:
            self.index.add(
                tg.id,
                group=f"{tg.namespace}/{tg.app}",
                agent_id=tg.agent_id,
                attributes=launching.attributes_from_json(tg.attributes),
                labels=self._labels(tg),
            )
        if save:
            self.save_tg(tg)

    def _labels(self, tg: records.TaskGroup) -> dict[str, str]:
        app = self.apps.get((tg.namespace, tg.app))
        return dict(app.spec.labels) if app is not None else {}

    def drop_tg(self, tg: records.TaskGroup) -> None:
        self.taskgroups.pop(tg.id, None)
        self.app_tgs.get((tg.namespace, tg.app), {}).pop(tg.id, None)
        for task_id in tg.tasks:
            self.task_index.pop(task_id, None)
        self.index.remove(tg.id)
        self.store.delete(self.store.taskgroup_key(tg.namespace, tg.app, tg.id))
        if tg.delta:
            inplace.sync_agent(self, tg.agent_id)

    def tgs_of(self, namespace: str, app: str) -> list[records.TaskGroup]:
        return sorted(self.app_tgs.get((namespace, app), {}).values(), key=lambda t: (t.instance, t.created))

    # -- user operations (the driver API calls these) ------------------------------------------------

    def submit_app(self, spec: objects.AppSpec, *, owner: str = "", instances: int | None = None) -> None:
        key = (spec.namespace, spec.name)
        if key in self.apps:
            raise errors.Conflict(f"application {spec.namespace}/{spec.name} already exists")
        app = records.Application(
            spec=spec, instances=spec.instances if instances is None else instances, owner=owner
        )
        self.put_app(app)
        self.save_version(app)
        self.wake()

    def update_app(self, spec: objects.AppSpec, *, instances: int | None = None) -> records.Application:
        app = self.app(spec.namespace, spec.name)
        app.spec = spec
        app.version = str(int(app.version) + 1)
        if instances is not None:
            app.instances = instances
        self.save_app(app)
        self.save_version(app)
        self.wake()
        return app

    def app(self, namespace: str, name: str) -> records.Application:
        app = self.apps.get((namespace, name))
        if app is None or app.deleting:
            raise errors.NotFound(f"application {namespace}/{name} does not exist")
        return app

    def scale(self, namespace: str, name: str, instances: int) -> records.Application:
        if instances < 0:
            raise errors.BadRequest(f"instances must be >= 0, not {instances}")
        app = self.app(namespace, name)
        app.instances = instances
        self.save_app(app)
        self.wake()
        return app

    def delete_app(self, namespace: str, name: str) -> None:
        app = self.app(namespace, name)
        app.deleting = True
        app.instances = 0
        self.save_app(app)
        self.wake()

    def reschedule(self, namespace: str, app_name: str, tg_name: str) -> None:
        """Kill one taskgroup (by id or name) and launch its instance again elsewhere or here."""
        for tg in self.tgs_of(namespace, app_name):
            if tg_name in (tg.id, tg.name):
                kills.kill(self, tg, reschedule=True)
                self.wake()
                return
        raise errors.NotFound(f"taskgroup {tg_name} of {namespace}/{app_name} does not exist")

    # -- the pass ---------------------------------------------------------------------------------

    async def run_pass(self) -> None:
        self.passes += 1
        now = time.monotonic()
        declines = self.pool.expire(now=now)
        rolling.advance(self, now=time.time())
        requests = launching.pending(self, time.time())
        kills.kill_surplus(self, now)
        started = time.perf_counter()
        placed, left = placement.place(requests, self.pool, self.index)
        if requests:
            self.decision_times.append((time.perf_counter() - started) / max(1, len(requests)))
        by_offer = launching.launches(self, placed)
        transitions.derive_statuses(self)
        await self.store.flush()  # every taskgroup is on record before its ACCEPT
        await launching.accept(self, by_offer, declines)
        await launching.suppress_or_revive(self, bool(left) or launching.waiting(self))
        if time.time() - self.last_reconcile > self.settings.reconcile_interval and self.client:
            self.last_reconcile = time.time()
            self.send("RECONCILE", {"tasks": []})
