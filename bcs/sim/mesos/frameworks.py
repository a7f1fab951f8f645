"""Frameworks as the master tracks them, and their event stream (one RecordIO subscription each).

A ``Subscription`` queues encoded events; the HTTP handler pumps them out as chunks, adding a
HEARTBEAT every ``heartbeat_interval`` seconds. Closing one ends the response cleanly (TEARDOWN,
failover to a newer subscription, removal); aborting drops the connection (a master crash).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from bcs.sim.mesos import resources, tasks, wire

if TYPE_CHECKING:
    from bcs.sim.mesos import allocator

__all__ = ["Framework", "Subscription", "info_error", "recordio"]

_HEARTBEAT = {"type": "HEARTBEAT"}


def recordio(event: dict[str, Any]) -> bytes:
    data = wire.dumps(event)
    return b"%d\n%b" % (len(data), data)


class Subscription:
    """The event stream of one SUBSCRIBE call."""

    CLOSE = b""  # end the response cleanly
    ABORT = b"-"  # drop the connection

    def __init__(self, stream_id: str, *, heartbeat_interval: float, max_chunk: int = 0) -> None:
        self.stream_id = stream_id
        self.heartbeat_interval = heartbeat_interval
        self.max_chunk = max_chunk
        self.closed = False
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()

    def send(self, event: dict[str, Any]) -> bool:
        if self.closed:
            return False
        self._queue.put_nowait(recordio(event))
        return True

    def close(self, *, abort: bool = False) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(self.ABORT if abort else self.CLOSE)

    async def pump(self, write: Callable[[bytes], Awaitable[None]]) -> bool:
        """Write events until closed; returns True when the connection should be dropped."""
        loop = asyncio.get_running_loop()
        beat: asyncio.TimerHandle | None = None

        def heartbeat() -> None:
            nonlocal beat
            self.send(_HEARTBEAT)
            beat = loop.call_later(self.heartbeat_interval, heartbeat)

        beat = loop.call_later(self.heartbeat_interval, heartbeat)
        try:
            while True:
                record = await self._queue.get()
                if record == self.CLOSE:
                    return False
                if record == self.ABORT:
                    return True
                # One record per chunk is what Mesos does; ``max_chunk`` splits records across
                # chunks so clients are held to parsing RecordIO whatever the chunk boundaries.
                step = self.max_chunk or len(record)
                for i in range(0, len(record), step):
                    await write(record[i : i + step])
        finally:
            beat.cancel()


@attrs.define(eq=False)
class Framework:
    id: str
    info: dict[str, Any]
    subscription: Subscription | None = None
    active: bool = True
    removed: bool = False
    recovered: bool = False
    suppressed: set[str] = attrs.field(factory=set)
    # (role, agent id) -> (monotonic expiry, the refused resources)
    filters: dict[tuple[str, str], tuple[float, resources.Resources]] = attrs.field(factory=dict)
    offers: dict[str, allocator.Offer] = attrs.field(factory=dict)
    tasks: dict[str, tasks.Task] = attrs.field(factory=dict)
    completed: collections.deque[tasks.Task] = attrs.field(factory=lambda: collections.deque(maxlen=1000))
    registered_time: float = attrs.field(factory=time.time)
    reregistered_time: float | None = None
    unregistered_time: float = 0.0
    failover_handle: asyncio.TimerHandle | None = None

    @property
    def connected(self) -> bool:
        return self.subscription is not None

    @property
    def capabilities(self) -> set[str]:
        return {c.get("type") for c in self.info.get("capabilities") or () if isinstance(c, dict)}

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities

    @property
    def multi_role(self) -> bool:
        return "MULTI_ROLE" in self.capabilities

    @property
    def roles(self) -> list[str]:
        if self.multi_role:
            return list(self.info.get("roles") or ())
        return [self.info.get("role") or "*"]

    @property
    def failover_timeout(self) -> float:
        return wire.as_float(self.info.get("failover_timeout"), 0.0)

    def send(self, event: dict[str, Any]) -> bool:
        return self.subscription is not None and self.subscription.send(event)

    def lost_state(self, partition_state: str) -> str:
        """``partition_state`` for PARTITION_AWARE frameworks, TASK_LOST for the others."""
        return partition_state if self.partition_aware else "TASK_LOST"


def info_error(info: dict[str, Any]) -> str | None:
    """Why a FrameworkInfo is invalid (sent as an ERROR event on the new stream), or None."""
    caps = {c.get("type") for c in info.get("capabilities") or () if isinstance(c, dict)}
    roles = info.get("roles")
    if "MULTI_ROLE" in caps:
        if info.get("role") is not None:
            return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
        if roles is not None and len(set(roles)) != len(roles):
            return f"'FrameworkInfo.roles' contains duplicate items: {roles}"
    elif roles:
        return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    try:
        timeout = wire.as_float(info.get("failover_timeout"), 0.0)
    except (TypeError, ValueError):
        return "Invalid 'FrameworkInfo.failover_timeout'"
    if timeout < 0 or timeout != timeout:
        return f"Invalid 'FrameworkInfo.failover_timeout': {timeout}"
    return None
