"""The simulated master: frameworks, subscriptions, scheduler calls, tasks and the allocation loop.

HTTP lives in ``server``; this module holds the state machine the handlers drive. Everything runs on
one event loop, so no locking: a call is applied in full before the next one starts.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import pathlib
import random
import socket
import struct
import time
from typing import Any

from bcs.sim.mesos import agents as agents_mod
from bcs.sim.mesos import allocator, calls, executor, frameworks, resources, tasks, wire

__all__ = ["VERSION", "Master"]

VERSION = {
    "build_date": "2020-11-19 10:00:00",
    "build_time": 1605780000.0,
    "build_user": "root",
    "git_sha": "bcs-sim-mesos",
    "git_tag": "1.11.0",
    "version": "1.11.0",
}


class Master:
    def __init__(
        self,
        *,
        agents: int = 3,
        cpus: float = 4.0,
        mem: float = 8192.0,
        disk: float = 10240.0,
        ports: str = "31000-32000",
        attributes: Any = None,
        seed: int | None = None,
        heartbeat_interval: float = 15.0,
        allocation_interval: float = 1.0,
        launch_delay: float = 0.02,
        running_delay: float = 0.02,
        kill_delay: float = 0.02,
        update_retry_interval: float = 10.0,
        update_retry_max: float = 600.0,
        offer_timeout: float = 0.0,
        max_chunk: int = 0,
    ) -> None:
        self.rng = random.Random(seed)
        self.master_id = wire.stream_id(self.rng)
        if isinstance(attributes, (str, pathlib.Path)):
            attributes = agents_mod.load_spec(attributes)
        made = agents_mod.make_agents(
            agents, master_id=self.master_id, cpus=cpus, mem=mem, disk=disk, ports=ports, spec=attributes
        )
        self.agents: dict[str, agents_mod.Agent] = {a.id: a for a in made}
        self.frameworks: dict[str, frameworks.Framework] = {}
        self.completed_frameworks: collections.deque[frameworks.Framework] = collections.deque(maxlen=50)
        self.removed_ids: set[str] = set()
        self.offers: dict[str, allocator.Offer] = {}
        self.updates = tasks.UpdateManager(
            deliver=self._deliver,
            completed=self.completed,
            retry_interval=update_retry_interval,
            retry_max=update_retry_max,
        )
        self.heartbeat_interval = heartbeat_interval
        self.allocation_interval = allocation_interval
        self.launch_delay = launch_delay
        self.running_delay = running_delay
        self.kill_delay = kill_delay
        self.offer_timeout = offer_timeout
        self.max_chunk = max_chunk
        self.recovering = False
        self.stopped = False
        self.allocation_passes = 0  # lets tests wait for "the allocator ran" without sleeping
        self.start_time = self.elected_time = time.time()
        self.host, self.port = "127.0.0.1", 5050
        self._counters = collections.Counter[str]()
        self._wake: asyncio.Event | None = None
        # Agents whose free resources changed since the last pass; a full pass (every
        # allocation_interval, and after framework-level changes) looks at every agent.
        self._dirty: set[str] = set()
        self._full = True
        self._loop_task: asyncio.Task[None] | None = None
        self.restart_handle: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._loop_task = asyncio.create_task(self._allocation_loop(), name="mesos-sim-allocator")

    async def stop(self) -> None:
        self.stopped = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self.restart_handle is not None:
            self.restart_handle.cancel()
        for fw in list(self.frameworks.values()):
            if fw.failover_handle is not None:
                fw.failover_handle.cancel()
            if fw.subscription is not None:
                fw.subscription.close()
            for task in fw.tasks.values():
                task.cancel_timers()

    def kick(self, agent_id: str | None = None) -> None:
        """Ask for an allocation pass soon (coalesced with other kicks): over one agent whose
        resources changed, or over every agent when ``agent_id`` is None."""
        if agent_id is None:
            self._full = True
        else:
            self._dirty.add(agent_id)
        if self._wake is not None:
            self._wake.set()

    async def _allocation_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        next_full = loop.time()
        while True:
            # A timer rather than wait_for: on 3.11 wait_for can swallow a cancellation that
            # races with the event being set, and this loop must stop when cancelled.
            timer = loop.call_later(max(0.0, next_full - loop.time()), self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()
            self._wake.clear()
            if self.recovering:
                continue
            if loop.time() >= next_full:  # the periodic full pass also lets refuse filters expire
                self._full = True
                next_full = loop.time() + self.allocation_interval
            if self._full:
                chosen = [a for a in self.agents.values() if a.active]
            else:
                chosen = [self.agents[a] for a in sorted(self._dirty) if self.agents[a].active]
            self._full = False
            self._dirty.clear()
            allocator.allocate(self, chosen)
            self.allocation_passes += 1

    def _next(self, kind: str) -> int:
        self._counters[kind] += 1
        return self._counters[kind] - 1

    def next_offer_id(self) -> str:
        return f"{self.master_id}-O{self._next('offer')}"

    def master_info(self) -> dict[str, Any]:
        try:
            ip = str(ipaddress.IPv4Address(self.host))
        except ValueError:  # a host name: no DNS lookups on the loop
            ip = "127.0.0.1"
        packed = struct.unpack("<I", socket.inet_aton(ip))[0]
        return {
            "id": self.master_id,
            "ip": packed,
            "port": self.port,
            "pid": f"master@{ip}:{self.port}",
            "hostname": self.host,
            "version": VERSION["version"],
            "address": {"hostname": self.host, "ip": ip, "port": self.port},
            "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {}],
        }

    # -- subscriptions -----------------------------------------------------------------------------

    def subscribe(self, call: dict[str, Any]) -> frameworks.Subscription:
        """Open a subscription for a SUBSCRIBE call; the first record is SUBSCRIBED or ERROR."""
        body = call["subscribe"]
        info = dict(body["framework_info"])
        sub = frameworks.Subscription(
            wire.stream_id(self.rng), heartbeat_interval=self.heartbeat_interval, max_chunk=self.max_chunk
        )
        fid = wire.id_of(info, "id")
        error = "Framework has been removed" if fid in self.removed_ids else frameworks.info_error(info)
        fw = self.frameworks.get(fid) if fid else None
        if error is None and fw is not None and info.get("principal") != fw.info.get("principal"):
            error = "Changing framework's principal is not allowed."
        if error is not None:
            sub.send({"type": "ERROR", "error": {"message": error}})
            sub.close()
            return sub
        if fid is None:
            fid = f"{self.master_id}-{self._next('framework'):04d}"
            info["id"] = wire.ident(fid)
            fw = frameworks.Framework(fid, info)
            self.frameworks[fid] = fw
        elif fw is None:  # unknown id (e.g. after a master failover): accept it as given
            fw = frameworks.Framework(fid, info)
            self.frameworks[fid] = fw
        else:
            self._failed_over(fw, info)
        fw.subscription = sub
        fw.active, fw.recovered = True, False
        fw.suppressed = {r for r in body.get("suppressed_roles") or () if isinstance(r, str)}
        subscribed = {
            "framework_id": wire.ident(fid),
            "heartbeat_interval_seconds": float(self.heartbeat_interval),
            "master_info": self.master_info(),
        }
        sub.send({"type": "SUBSCRIBED", "subscribed": subscribed})
        sub.send({"type": "HEARTBEAT"})
        for task in fw.tasks.values():
            self.updates.resend(task)
        self.kick()
        return sub

    def _failed_over(self, fw: frameworks.Framework, info: dict[str, Any]) -> None:
        if fw.subscription is not None:
            fw.subscription.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
            fw.subscription.close()
            fw.subscription = None
        self._withdraw_offers(fw)
        if fw.failover_handle is not None:
            fw.failover_handle.cancel()
            fw.failover_handle = None
        # user and checkpoint cannot change on re-subscription: keep the old ones silently
        fw.info = {**info, "user": fw.info.get("user"), "checkpoint": fw.info.get("checkpoint", False)}
        fw.reregistered_time = time.time()

    def _withdraw_offers(self, fw: frameworks.Framework) -> None:
        for offer in list(fw.offers.values()):
            allocator.remove_offer(self, offer)

    def disconnected(self, sub: frameworks.Subscription) -> None:
        """The client of ``sub`` went away: deactivate and start the failover timer."""
        fw = next((f for f in self.frameworks.values() if f.subscription is sub), None)
        sub.close()
        if fw is None or self.stopped:
            return
        fw.subscription = None
        fw.active = False
        fw.unregistered_time = time.time()
        self._withdraw_offers(fw)
        loop = asyncio.get_running_loop()
        fw.failover_handle = loop.call_later(fw.failover_timeout, self.remove_framework, fw)
        self.kick()

    def remove_framework(self, fw: frameworks.Framework) -> None:
        """TEARDOWN or failover timeout: kill every task, close the stream, retire the id."""
        fw.removed, fw.active = True, False
        if fw.failover_handle is not None:
            fw.failover_handle.cancel()
            fw.failover_handle = None
        self._withdraw_offers(fw)
        for task in list(fw.tasks.values()):
            task.cancel_timers()
            self.updates.drop(task)
            if not task.terminal:
                status = wire.task_status(
                    task.task_id,
                    "TASK_KILLED",
                    source="SOURCE_MASTER",
                    reason="REASON_FRAMEWORK_REMOVED",
                    message="Framework removed",
                )
                task.state = "TASK_KILLED"
                task.record(status)
                self.release(task, notify=False)
            self.completed(task)
        if fw.subscription is not None:
            fw.subscription.close()
            fw.subscription = None
        fw.unregistered_time = time.time()
        self.frameworks.pop(fw.id, None)
        self.removed_ids.add(fw.id)
        self.completed_frameworks.append(fw)
        self.kick()

    # -- calls -------------------------------------------------------------------------------------

    def call(self, kind: str, call: dict[str, Any], stream_id: str | None) -> tuple[int, str]:
        """Apply a non-SUBSCRIBE call; returns (HTTP status, plain-text body)."""
        fid = wire.id_of(call, "framework_id") or ""
        fw = self.frameworks.get(fid)
        if fw is None or fw.removed:
            return 400, "Framework cannot be found"
        if fw.subscription is None:
            return 403, "Framework is not subscribed"
        if stream_id is None:
            return 400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
        if stream_id != fw.subscription.stream_id:
            return 400, (
                f"The stream ID '{stream_id}' included in this request didn't match the stream ID "
                f"currently associated with framework ID {fid}"
            )
        if kind == "UNKNOWN":
            return 501, "Received an unexpected 'UNKNOWN' call"
        return calls.dispatch(self, fw, kind, call)

    def executor_message(self, fw: frameworks.Framework, agent_id: str, executor_id: str, data: str) -> None:
        message = {"agent_id": wire.ident(agent_id), "executor_id": wire.ident(executor_id), "data": data}
        fw.send({"type": "MESSAGE", "message": message})

    # -- tasks -------------------------------------------------------------------------------------

    def master_update(
        self,
        fw: frameworks.Framework,
        task_id: str,
        state: str,
        *,
        reason: str,
        message: str,
        agent_id: str | None = None,
        executor_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """An update the master makes itself: SOURCE_MASTER, no uuid, never resent."""
        status = wire.task_status(
            task_id,
            state,
            source="SOURCE_MASTER",
            agent_id=agent_id,
            executor_id=executor_id,
            message=message,
            reason=reason,
            extra=extra,
        )
        fw.send({"type": "UPDATE", "update": {"status": status}})

    def start_tasks(
        self,
        fw: frameworks.Framework,
        agent: agents_mod.Agent,
        role: str,
        items: list[tuple[dict[str, Any], resources.Resources]],
        executor_info: dict[str, Any] | None,
        kind: str,
    ) -> None:
        ex = None
        if executor_info is not None:
            exec_id = wire.id_of(executor_info, "executor_id") or ""
            ex = agent.executors.get((fw.id, exec_id))
            if ex is None:
                ex_res = resources.Resources.parse(executor_info.get("resources"))
                ex = agents_mod.Executor(fw.id, exec_id, agent.id, kind, ex_res, executor_info)
                agent.executors[(fw.id, exec_id)] = ex
                agent.used = agent.used + ex_res
        for info, res in items:
            task_id = wire.id_of(info, "task_id") or ""
            task = tasks.Task(
                framework_id=fw.id,
                task_id=task_id,
                name=str(info.get("name", "")),
                agent_id=agent.id,
                executor_id=ex.executor_id if ex is not None else task_id,
                executor_kind=kind,
                resources=res,
                info=info,
                role=role,
                container_id=f"{self.master_id}-C{self._next('container')}",
            )
            fw.tasks[task_id] = task
            agent.tasks.add(task.key)
            agent.used = agent.used + res
            if ex is not None:
                ex.tasks.add(task_id)
            executor.launch(self, task)

    def release(self, task: tasks.Task, *, notify: bool = True) -> None:
        """The task's latest state is terminal: give its resources back (and its executor's)."""
        agent = self.agents.get(task.agent_id)
        if agent is None or task.key not in agent.tasks or task.released:
            return
        task.released = True
        task.released_at = time.time()
        agent.used = agent.used - task.resources
        self.kick(agent.id)
        key = task.group_executor
        ex = agent.executors.get(key) if key is not None else None
        if ex is not None:
            ex.tasks.discard(task.task_id)
            if not ex.tasks:
                del agent.executors[key]  # type: ignore[arg-type]
                agent.used = agent.used - ex.resources
                fw = self.frameworks.get(task.framework_id)
                if notify and fw is not None and agent.active:
                    failure = {"agent_id": wire.ident(agent.id), "executor_id": wire.ident(ex.executor_id)}
                    fw.send({"type": "FAILURE", "failure": {**failure, "status": 0}})

    def _deliver(self, task: tasks.Task, status: dict[str, Any]) -> bool:
        fw = self.frameworks.get(task.framework_id)
        agent = self.agents.get(task.agent_id)
        if fw is None or agent is None or not agent.active or self.recovering:
            return False
        return fw.send({"type": "UPDATE", "update": {"status": status}})

    def completed(self, task: tasks.Task) -> None:
        """The terminal update was acknowledged: the task leaves the master's live set."""
        fw = self.frameworks.get(task.framework_id) or next(
            (f for f in self.completed_frameworks if f.id == task.framework_id), None
        )
        if fw is not None and fw.tasks.get(task.task_id) is task:
            del fw.tasks[task.task_id]
            fw.completed.append(task)
        agent = self.agents.get(task.agent_id)
        if agent is not None:
            agent.tasks.discard(task.key)

    def find_task(self, task_id: str, framework_id: str | None = None) -> tasks.Task:
        found = [
            fw.tasks[task_id]
            for fw in self.frameworks.values()
            if task_id in fw.tasks and framework_id in (None, fw.id)
        ]
        if len(found) != 1:
            raise KeyError(f"task {task_id!r}: {'not found' if not found else 'ambiguous'}")
        return found[0]

    def find_agent(self, key: str | int) -> agents_mod.Agent:
        for agent in self.agents.values():
            if key in (agent.id, agent.hostname, agent.index, str(agent.index)):
                return agent
        raise KeyError(f"agent {key!r}: not found")
