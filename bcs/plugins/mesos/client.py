"""An aiohttp client of the Mesos v1 scheduler HTTP API.

:meth:`SchedulerClient.run` subscribes to a master and hands every event, in order, to the
``on_event`` coroutine. It re-subscribes with the same framework id (failover) after the stream ends,
an ERROR event, a missed-heartbeat timeout (``missed_heartbeats`` times the announced interval without
any record) or a 503, with exponential backoff up to ``backoff_max``, rotating through the masters;
a 307 is followed to the leader it names. Calls go on a separate connection pool; anything but a
2xx raises :class:`CallRejected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson
import yarl

from bcs import errors
from bcs.plugins.mesos import recordio

__all__ = ["CallRejected", "SchedulerClient", "check_response"]

logger = logging.getLogger(__name__)
PATH = "/api/v1/scheduler"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

EventHandler = Callable[[dict[str, Any]], Awaitable[None]]


class CallRejected(errors.BackendUnavailable):
    """The master answered a call with a non-2xx status."""

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class _Resubscribe(Exception):
    """End this subscription and start another (after backoff unless ``at_once``)."""

    def __init__(self, why: str, *, at_once: bool = False, url: str | None = None) -> None:
        super().__init__(why)
        self.at_once = at_once
        self.url = url


async def check_response(response: aiohttp.ClientResponse, what: str) -> None:
    """Map a master's refusal to :class:`CallRejected`, keeping a truncated body."""
    if response.status < 300:
        return
    text = (await response.text())[:300]
    raise CallRejected(f"{what}: master answered {response.status}: {text}", http_status=response.status)


def _master_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if value.startswith("//"):
        value = "http:" + value
    if "://" not in value:
        value = "http://" + value
    return value


class SchedulerClient:
    def __init__(
        self,
        masters: Sequence[str],
        framework_info: dict[str, Any],
        *,
        on_event: EventHandler,
        framework_id: str = "",
        backoff_initial: float = 0.2,
        backoff_max: float = 15.0,
        missed_heartbeats: float = 5.0,
        on_subscribed: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        if not masters:
            raise errors.ConfigError("no Mesos master configured")
        self.masters = [_master_url(m) for m in masters]
        self.framework_info = dict(framework_info)
        self.framework_id = framework_id
        self.stream_id = ""
        self.master = self.masters[0]
        self.on_event = on_event
        self.on_subscribed = on_subscribed
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.missed_heartbeats = missed_heartbeats
        self.heartbeat_interval = 15.0
        self.subscriptions = 0  # how many SUBSCRIBED we got (tests wait on it)
        self.connected = asyncio.Event()
        self._stream_session: aiohttp.ClientSession | None = None
        self._call_session: aiohttp.ClientSession | None = None
        self._rng = random.Random()

    async def close(self) -> None:
        for session in (self._stream_session, self._call_session):
            if session is not None:
                await session.close()
        self._stream_session = self._call_session = None

    def _sessions(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        if self._stream_session is None:
            self._stream_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        if self._call_session is None:
            self._call_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._stream_session, self._call_session

    # -- the subscription loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe and dispatch events until cancelled."""
        backoff = self.backoff_initial
        index = 0
        url = self.masters[0]
        while True:
            before = self.subscriptions
            try:
                await self._subscribe_once(url)
                why = _Resubscribe("stream ended")
            except _Resubscribe as e:
                why = e
            except (aiohttp.ClientError, OSError, recordio.RecordIOError, TimeoutError) as e:
                why = _Resubscribe(f"{type(e).__name__}: {e}")
            self.connected.clear()
            self.stream_id = ""
            if why.url is not None:
                url = why.url
            else:
                index = (index + 1) % len(self.masters)
                url = self.masters[index]
            if self.subscriptions > before:
                backoff = self.backoff_initial  # that one worked for a while: start over
            if why.at_once:
                logger.info("mesos: re-subscribing to %s (%s)", url, why)
                continue
            delay = min(self.backoff_max, backoff) * (0.5 + self._rng.random() / 2)
            logger.info("mesos: subscription ended (%s); retrying %s in %.2fs", why, url, delay)
            await asyncio.sleep(delay)
            backoff = min(self.backoff_max, backoff * 2)

    def _subscribe_body(self) -> dict[str, Any]:
        info = dict(self.framework_info)
        body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if self.framework_id:
            info["id"] = {"value": self.framework_id}
            body["framework_id"] = {"value": self.framework_id}
        return body

    async def _subscribe_once(self, url: str) -> None:
        stream, _ = self._sessions()
        async with stream.post(
            url + PATH, data=orjson.dumps(self._subscribe_body()), headers=JSON_HEADERS, allow_redirects=False
        ) as resp:
            if resp.status == 307:
                location = resp.headers.get("Location", "")
                leader = str(yarl.URL(_master_url(location)).origin()) if location else None
                raise _Resubscribe(f"redirected to {location}", at_once=bool(leader), url=leader)
            if resp.status != 200:
                text = (await resp.text())[:200]
                raise _Resubscribe(f"SUBSCRIBE answered {resp.status}: {text}")
            self.master = url
            self.stream_id = resp.headers.get("Mesos-Stream-Id", "")
            await self._read(resp)

    async def _read(self, resp: aiohttp.ClientResponse) -> None:
        decoder = recordio.Decoder()
        while True:
            timeout = self.heartbeat_interval * self.missed_heartbeats
            try:
                async with asyncio.timeout(timeout):
                    data = await resp.content.readany()
            except TimeoutError:
                raise _Resubscribe(f"no event for {timeout:.1f}s (missed heartbeats)") from None
            if not data:
                return
            for event in decoder.feed(data):
                await self._dispatch(event)

    async def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "SUBSCRIBED":
            sub = event.get("subscribed") or {}
            self.framework_id = sub["framework_id"]["value"]
            self.heartbeat_interval = float(sub.get("heartbeat_interval_seconds") or 15.0)
            self.subscriptions += 1
            self.connected.set()
            if self.on_subscribed is not None:
                await self.on_subscribed(self.framework_id)
        elif kind == "ERROR":
            message = (event.get("error") or {}).get("message", "")
            await self.on_event(event)
            if message == "Framework has been removed":
                self.framework_id = ""  # the id is dead for good: register anew
            raise _Resubscribe(f"ERROR event: {message}")
        if kind != "SUBSCRIBED":
            await self.on_event(event)

    # -- calls -------------------------------------------------------------------------------------

    async def call(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        """Send one call on the current subscription; BackendUnavailable when not subscribed."""
        if not self.stream_id:
            raise errors.BackendUnavailable(f"mesos: cannot send {kind}: not subscribed")
        body: dict[str, Any] = {"type": kind, "framework_id": {"value": self.framework_id}}
        if payload is not None:
            body[kind.lower()] = payload
        _, session = self._sessions()
        headers = {**JSON_HEADERS, "Mesos-Stream-Id": self.stream_id}
        try:
            async with session.post(self.master + PATH, data=orjson.dumps(body), headers=headers) as resp:
                await check_response(resp, kind)
        except aiohttp.ClientError as e:
            raise errors.BackendUnavailable(f"mesos: {kind} failed: {type(e).__name__}: {e}") from None

    async def acknowledge(self, status: dict[str, Any]) -> None:
        """ACKNOWLEDGE an update, only when it carries a uuid (master-made updates have none)."""
        if "uuid" not in status:
            return
        payload = {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}
        with contextlib.suppress(errors.BackendUnavailable):
            await self.call("ACKNOWLEDGE", payload)
