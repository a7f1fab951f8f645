"""The framework scheduler of one Mesos cluster: offers in, LAUNCH_GROUPs out, state on the KV port.

Level-triggered: every pass (on a wake-up or each ``tick`` seconds) compares what the applications
want (instances 0..n-1, minus those waiting out a restart delay) with the taskgroups on record,
places the missing ones from the offer pool, kills the surplus (highest index first), advances
rolling deployments (:mod:`.rolling`) and derives statuses. A taskgroup is written to the KV port
before its ACCEPT is sent; after a restart the scheduler reconciles every known task with the
master, so it never launches a taskgroup twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import attrs

from bcs import errors
from bcs.core import kv as kv_mod
from bcs.core import tasks as tasks_mod
from bcs.core.offers import constraints, model, placement, pool
from bcs.plugins.mesos import client, inplace, objects, records, rolling, store, wire

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


def _attrs_json(attributes: dict[str, model.AttrValue]) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in attributes.items()}


def _attrs_from_json(data: dict[str, Any]) -> dict[str, model.AttrValue]:
    return {k: frozenset(v) if isinstance(v, list) else v for k, v in data.items()}


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
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._side: set[asyncio.Task[Any]] = set()
        self._stamp = 0
        self._last_reconcile = 0.0

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
            on_event=self._on_event,
            framework_id=await self.store.framework_id(),
            on_subscribed=self._on_subscribed,
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
        for task in self._tasks:
            task.cancel()
        for task in [*self._tasks, *self._side]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(errors.PortUnavailable):
            await self.store.flush()
        if self.client is not None:
            await self.client.close()

    def wake(self) -> None:
        self._wake.set()

    def send(self, kind: str, payload: dict[str, Any]) -> None:
        """A call to the master in the background (its failure is logged, not raised)."""
        self._spawn(self._call(kind, payload))

    def decline(self, offer_ids: list[str]) -> None:
        filters = {"refuse_seconds": self.settings.refuse_seconds}
        self.send("DECLINE", {"offer_ids": [{"value": i} for i in offer_ids], "filters": filters})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._side.add(task)
        task.add_done_callback(self._side.discard)

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
                self._put_app(app, save=False)
            elif parts[0] == "application" and len(parts) == 4:
                tg = records.TaskGroup.from_json(data)
                self._add_tg(tg, save=False)
            elif parts[0] == "deployment" and len(parts) == 3:
                dep = records.Deployment.from_json(data)
                self.deployments[(dep.spec.namespace, dep.spec.name)] = dep
            elif parts[0] in ("configmap", "secret", "service") and len(parts) == 3:
                self.objects[(parts[0], parts[1], parts[2])] = data
        for agent_id in {tg.agent_id for tg in self.taskgroups.values() if tg.delta}:
            inplace.sync_agent(self, agent_id)

    def _put_app(self, app: records.Application, *, save: bool = True) -> None:
        key = (app.namespace, app.name)
        self.apps[key] = app
        self.app_tgs.setdefault(key, {})
        if save:
            self.save_app(app)

    def save_app(self, app: records.Application) -> None:
        app.updated = time.time()
        self.store.put(self.store.app_key(app.namespace, app.name), app.to_json())

    def save_tg(self, tg: records.TaskGroup) -> None:
        self.store.put(self.store.taskgroup_key(tg.namespace, tg.app, tg.id), tg.to_json())

    def _add_tg(self, tg: records.TaskGroup, *, save: bool = True) -> None:
        self.taskgroups[tg.id] = tg
        self.app_tgs.setdefault((tg.namespace, tg.app), {})[tg.id] = tg
        for task_id in tg.tasks:
            self.task_index[task_id] = tg.id
        if not tg.terminal and tg.agent_id:
            self.index.add(
                tg.id,
                group=f"{tg.namespace}/{tg.app}",
                agent_id=tg.agent_id,
                attributes=_attrs_from_json(tg.attributes),
                labels=self._labels(tg),
            )
        if save:
            self.save_tg(tg)

    def _labels(self, tg: records.TaskGroup) -> dict[str, str]:
        app = self.apps.get((tg.namespace, tg.app))
        return dict(app.spec.labels) if app is not None else {}

    def _drop_tg(self, tg: records.TaskGroup) -> None:
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
        self._put_app(app)
        self.store.put(
            self.store.key("version", spec.namespace, f"{spec.name}/{app.version}"), dict(spec.raw)
        )
        self.wake()

    def update_app(self, spec: objects.AppSpec, *, instances: int | None = None) -> records.Application:
        app = self.app(spec.namespace, spec.name)
        app.spec = spec
        app.version = str(int(app.version) + 1)
        if instances is not None:
            app.instances = instances
        self.save_app(app)
        self.store.put(
            self.store.key("version", spec.namespace, f"{spec.name}/{app.version}"), dict(spec.raw)
        )
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
                self.kill(tg, reschedule=True)
                self.wake()
                return
        raise errors.NotFound(f"taskgroup {tg_name} of {namespace}/{app_name} does not exist")

    # -- the pass ---------------------------------------------------------------------------------

    async def run_pass(self) -> None:
        self.passes += 1
        now = time.monotonic()
        declines = self.pool.expire(now=now)
        rolling.advance(self, now=time.time())
        requests = self._pending(time.time())
        self._kill_surplus(now)
        started = time.perf_counter()
        placed, _left = placement.place(requests, self.pool, self.index)
        if requests:
            self.decision_times.append((time.perf_counter() - started) / max(1, len(requests)))
        by_offer = self._launches(placed)
        self._derive_statuses()
        await self.store.flush()  # every taskgroup is on record before its ACCEPT
        await self._send(by_offer, declines)
        await self._suppress_or_revive(bool(_left) or self._waiting())
        if time.time() - self._last_reconcile > self.settings.reconcile_interval and self.client:
            self._last_reconcile = time.time()
            self._spawn(self._call("RECONCILE", {"tasks": []}))

    def _next_id(self, instance: int, app: records.Application) -> str:
        self._stamp = max(int(time.time() * 1000), self._stamp + 1)
        return f"{instance}.{app.name}.{app.namespace}.{self.cluster_id}.{self._stamp}"

    def _occupied(self, app: records.Application) -> set[int]:
        return {tg.instance for tg in self.app_tgs.get((app.namespace, app.name), {}).values()}

    def _pending(self, now: float) -> list[model.Request]:
        out = []
        if self.client is None or not self.client.stream_id:
            return out
        for app in self.apps.values():
            if app.deleting:
                continue
            occupied = self._occupied(app)
            for i in range(app.instances):
                if i in occupied or app.not_before.get(i, 0.0) > now:
                    continue
                spec = app.spec
                out.append(
                    model.Request(
                        key=self._next_id(i, app),
                        group=f"{app.namespace}/{app.name}",
                        cpus=spec.cpus + wire.EXECUTOR["cpus"],
                        mem=spec.mem + wire.EXECUTOR["mem"],
                        disk=spec.disk + wire.EXECUTOR["disk"],
                        ports=sum(1 for c in spec.containers for p in c.ports if p.host_port == 0),
                        fixed_ports=tuple(
                            p.host_port for c in spec.containers for p in c.ports if p.host_port > 0
                        ),
                        constraint=spec.constraint,
                        labels=spec.labels,
                    )
                )
        return out

    def _waiting(self) -> bool:
        """Instances held back by a restart delay still need offers soon."""
        now = time.time()
        return any(
            i not in self._occupied(app) and app.not_before.get(i, 0.0) > now
            for app in self.apps.values()
            if not app.deleting
            for i in range(app.instances)
        )

    def _launches(self, placed: list[model.Placement]) -> dict[str, tuple[model.Offer, list[dict[str, Any]]]]:
        by_offer: dict[str, tuple[model.Offer, list[dict[str, Any]]]] = {}
        framework_id = self.client.framework_id if self.client else ""
        for p in placed:
            ns_app = p.request.group.split("/", 1)
            app = self.apps[(ns_app[0], ns_app[1])]
            instance = int(p.request.key.split(".", 1)[0])
            tg = records.TaskGroup(
                id=p.request.key,
                namespace=app.namespace,
                app=app.name,
                instance=instance,
                version=app.version,
                agent_id=p.offer.agent_id,
                hostname=p.offer.hostname,
                host_ip=str(p.offer.attributes.get("InnerIP", "")),
                attributes=_attrs_json(p.offer.attributes),
                restarts=app.restarts.get(instance, 0),
                launched=True,
            )
            op = wire.launch_group(
                tg=tg, spec=app.spec, placement=p, framework_id=framework_id, cluster_id=self.cluster_id
            )
            self.index.remove(tg.id)  # re-added by _add_tg with the same facts
            self._add_tg(tg)
            app.not_before.pop(instance, None)
            by_offer.setdefault(p.offer.id, (p.offer, []))[1].append(op)
        for offer, _ops in by_offer.values():
            self.pool.remove(offer.id)
        self.launched += len(placed)
        return by_offer

    async def _send(
        self, by_offer: dict[str, tuple[model.Offer, list[dict[str, Any]]]], declines: list[str]
    ) -> None:
        filters = {"refuse_seconds": self.settings.refuse_seconds}
        calls = [
            self._call(
                "ACCEPT",
                {"offer_ids": [{"value": i} for i in offer.ids], "operations": ops, "filters": filters},
            )
            for offer, ops in by_offer.values()
        ]
        if declines:
            calls.append(self._call("DECLINE", {"offer_ids": [{"value": i} for i in declines]}))
        await asyncio.gather(*calls)

    async def _call(self, kind: str, payload: dict[str, Any] | None = None) -> bool:
        if self.client is None:
            return False
        try:
            await self.client.call(kind, payload)
            return True
        except errors.BackendUnavailable as e:
            logger.info("mesos %s: %s not sent: %s", self.cluster_id, kind, e)
            return False

    async def _suppress_or_revive(self, want_offers: bool) -> None:
        if want_offers and self.suppressed:
            if await self._call("REVIVE"):
                self.suppressed = False
        elif (
            not want_offers
            and not self.suppressed
            and self.client
            and self.client.stream_id
            and await self._call("SUPPRESS")
        ):
            self.suppressed = True

    def _kill_surplus(self, now: float) -> None:
        for key, app in list(self.apps.items()):
            tgs = self.tgs_of(*key)
            for tg in sorted(tgs, key=lambda t: -t.instance):
                surplus = tg.instance >= app.instances
                if tg.terminal:
                    if surplus:
                        self._drop_tg(tg)
                elif (surplus or tg.kill_sent) and now - tg.kill_sent > self.settings.kill_retry:
                    self.kill(tg, reschedule=not surplus and not tg.killing)
            if app.deleting and not self.app_tgs.get(key):
                del self.apps[key]
                self.app_tgs.pop(key, None)
                self.store.delete(self.store.app_key(*key))

    def kill(self, tg: records.TaskGroup, *, reschedule: bool = False) -> None:
        """KILL a taskgroup on purpose (one task kills the group); ``reschedule`` relaunches it."""
        tg.killing = not reschedule
        tg.kill_sent = time.monotonic()
        self.save_tg(tg)
        live = [t for t, info in tg.tasks.items() if info["state"] not in records.TERMINAL]
        if not live:
            return
        app = self.apps.get((tg.namespace, tg.app))
        grace = (app.spec.kill_grace if app else 10) * 1_000_000_000
        payload = {
            "task_id": {"value": live[0]},
            "agent_id": {"value": tg.agent_id},
            "kill_policy": {"grace_period": {"nanoseconds": grace}},
        }
        self._spawn(self._call("KILL", payload))

    def _derive_statuses(self) -> None:
        for key, app in self.apps.items():
            if rolling.owns_status(self, app):
                continue
            current = [tg for tg in self.app_tgs.get(key, {}).values() if tg.instance < app.instances]
            status, message = records.app_status(app.instances, [tg.status for tg in current])
            if app.deleting:
                status, message = "Operating", "application is being deleted"
            if (status, message) != (app.status, app.message):
                app.last_status, app.status, app.message = app.status, status, message
                self.save_app(app)

    # -- events -----------------------------------------------------------------------------------

    async def _on_subscribed(self, framework_id: str) -> None:
        self.store.set_framework_id(framework_id)
        # Offers held before a resubscription are void (the master withdrew them).
        self.pool.clear()
        self.suppressed = False
        known = [
            {"task_id": {"value": t}, "agent_id": {"value": tg.agent_id}}
            for tg in self.taskgroups.values()
            if not tg.terminal
            for t in tg.tasks
        ]
        if known:
            self._spawn(self._call("RECONCILE", {"tasks": known}))
        self._last_reconcile = time.time()
        self.wake()

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "OFFERS":
            declines = []
            for raw in event["offers"].get("offers", []):
                declines += self.pool.add(wire.offer_from_json(raw))
            if declines:
                self._spawn(self._call("DECLINE", {"offer_ids": [{"value": i} for i in declines]}))
            self.wake()
        elif kind == "RESCIND":
            self.pool.remove(event["rescind"]["offer_id"]["value"])
        elif kind == "UPDATE":
            self._on_update(event["update"]["status"])
        elif kind == "FAILURE":
            failure = event.get("failure") or {}
            if "executor_id" not in failure and "agent_id" in failure:
                self._agent_lost(failure["agent_id"]["value"])
        elif kind == "ERROR":
            logger.warning("mesos %s: master error: %s", self.cluster_id, event.get("error"))

    def _agent_lost(self, agent_id: str) -> None:
        declines = self.pool.lose_agent(agent_id)
        if declines:
            self._spawn(self._call("DECLINE", {"offer_ids": [{"value": i} for i in declines]}))

    def _on_update(self, status: dict[str, Any]) -> None:
        if self.client is not None and "uuid" in status:
            self._spawn(self.client.acknowledge(status))
        task_id = status["task_id"]["value"]
        state = records.TASK_STATES.get(status.get("state", ""), "Unknown")
        if status.get("reason") == "REASON_AGENT_REMOVED" and "agent_id" in status:
            self._agent_lost(status["agent_id"]["value"])
        tg = self.taskgroups.get(self.task_index.get(task_id, ""))
        if tg is None:
            if state not in records.TERMINAL:
                # Not ours (any more): a leftover must not run beside its replacement.
                payload = {"task_id": status["task_id"]}
                if "agent_id" in status:
                    payload["agent_id"] = status["agent_id"]
                self._spawn(self._call("KILL", payload))
            return
        for info in (status.get("container_status") or {}).get("network_infos", []):
            for ip in info.get("ip_addresses", []):
                tg.pod_ip = ip.get("ip_address", tg.pod_ip)
        if "healthy" in status:
            state = tg.set_health(
                task_id, state, healthy=bool(status["healthy"]), message=status.get("message", "")
            )
        changed = tg.set_task_state(task_id, state, status.get("message", ""))
        self.save_tg(tg)
        if changed and tg.terminal:
            self._ended(tg, lost=tg.status == "Lost")
        self.wake()

    def _ended(self, tg: records.TaskGroup, *, lost: bool) -> None:
        """A taskgroup reached a terminal status: forget it, restart its instance, or keep it."""
        self.index.remove(tg.id)
        if tg.delta:
            inplace.sync_agent(self, tg.agent_id)  # what it held in place is free again
        app = self.apps.get((tg.namespace, tg.app))
        if app is None or tg.killing or tg.instance >= app.instances or app.deleting:
            self._drop_tg(tg)
            return
        if tg.status in ("Finish",):
            return  # done: the instance stays finished
        rescheduled_on_purpose = not tg.killing and tg.kill_sent > 0
        reason = "lost" if lost else "failed"
        restarts = app.restarts.get(tg.instance, 0)
        allowed = app.spec.restart.maxtimes == 0 or restarts < app.spec.restart.maxtimes
        if rescheduled_on_purpose or (app.spec.restart.applies(reason) and allowed):
            if not rescheduled_on_purpose:
                app.restarts[tg.instance] = restarts + 1
                app.not_before[tg.instance] = time.time() + app.spec.restart.delay(restarts + 1)
            self.save_app(app)
            self._drop_tg(tg)
        # Otherwise the taskgroup stays on record, Failed or Lost, and holds its instance.
