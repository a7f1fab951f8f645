"""Fixtures for the simulated Mesos master: ``mesos_sim`` and a raw aiohttp v1 scheduler client.

``Scheduler`` is deliberately independent of the simulator's code: it parses RecordIO itself from
whatever byte pieces aiohttp hands over, so records split across chunks are exercised for real.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from bcs.sim.mesos import sim
from tests import services

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
MakeScheduler = Callable[..., Awaitable["Scheduler"]]

# The name these tests poll with: ``services.eventually``, polling often (the simulator is fast).
until = functools.partial(services.eventually, every=0.01)


class RecordIO:
    """Incremental RecordIO decoder: ``<decimal length>\\n<json>`` records from arbitrary pieces."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buf += data
        out = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                return out
            length = int(self._buf[:nl])
            assert length > 0, "a RecordIO length is never 0"
            if len(self._buf) < nl + 1 + length:
                return out
            out.append(orjson.loads(self._buf[nl + 1 : nl + 1 + length]))
            self._buf = self._buf[nl + 1 + length :]

    @property
    def pending(self) -> bytes:
        return self._buf


def framework_info(name: str = "raw", *caps: str, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"user": "root", "name": name, **extra}
    if caps:
        info["capabilities"] = [{"type": c} for c in caps]
    return info


class Scheduler:
    """One subscription over raw aiohttp: events are collected by a reader task."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.events: list[dict[str, Any]] = []
        self.framework_id = ""
        self.stream_id = ""
        self.response: aiohttp.ClientResponse | None = None
        self.http_chunks = 0
        self.ended: str | None = None  # "eof" or "error" once the stream is over
        self.auto_ack = True
        self.acked: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._acks: set[asyncio.Task[None]] = set()

    async def subscribe(
        self, info: dict[str, Any], *, framework_id: str | None = None, **subscribe: Any
    ) -> aiohttp.ClientResponse:
        body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info, **subscribe}}
        if framework_id:
            body["framework_id"] = {"value": framework_id}
            info["id"] = {"value": framework_id}
        resp = await self.session.post(
            f"{self.url}/api/v1/scheduler",
            data=orjson.dumps(body),
            headers=JSON,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        )
        self.response = resp
        if resp.status == 200:
            self.stream_id = resp.headers["Mesos-Stream-Id"]
            self.ended = None
            self._reader = asyncio.create_task(self._read(resp), name="mesos-test-reader")
            first = await self.wait_for("SUBSCRIBED", "ERROR")
            if first["type"] == "SUBSCRIBED":
                self.framework_id = first["subscribed"]["framework_id"]["value"]
        return resp

    async def _read(self, resp: aiohttp.ClientResponse) -> None:
        decoder = RecordIO()
        try:
            async for data, _end_of_chunk in resp.content.iter_chunks():
                self.http_chunks += 1
                for event in decoder.feed(data):
                    self.events.append(event)
                    if self.auto_ack and event["type"] == "UPDATE":
                        status = event["update"]["status"]
                        if "uuid" in status:
                            task = asyncio.get_running_loop().create_task(self.ack(status))
                            self._acks.add(task)
                            task.add_done_callback(self._acks.discard)
            self.ended = "eof"
        except (aiohttp.ClientError, ConnectionError):
            self.ended = "error"

    async def call(
        self, kind: str, payload: dict[str, Any] | None = None, *, stream_id: str | None = None
    ) -> tuple[int, str]:
        body: dict[str, Any] = {"type": kind, "framework_id": {"value": self.framework_id}}
        if payload is not None:
            body[kind.lower()] = payload
        headers = {"Mesos-Stream-Id": stream_id if stream_id is not None else self.stream_id}
        async with self.session.post(f"{self.url}/api/v1/scheduler", json=body, headers=headers) as r:
            return r.status, await r.text()

    async def ack(self, status: dict[str, Any]) -> None:
        payload = {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}
        code, text = await self.call("ACKNOWLEDGE", payload)
        assert code == 202, text
        self.acked.append(status["uuid"])

    def of(self, *types: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] in types]

    def updates(self, task_id: str | None = None) -> list[dict[str, Any]]:
        out = [e["update"]["status"] for e in self.of("UPDATE")]
        return [s for s in out if task_id is None or s["task_id"]["value"] == task_id]

    def states(self, task_id: str) -> list[str]:
        return [s["state"] for s in self.updates(task_id)]

    async def wait_for(
        self, *types: str, where: Callable[[dict[str, Any]], bool] = lambda e: True, after: int = 0
    ) -> dict[str, Any]:
        """The first event (from index ``after``) of one of ``types`` that satisfies ``where``."""

        def find() -> dict[str, Any] | None:
            return next((e for e in self.events[after:] if e["type"] in types and where(e)), None)

        return await until(find, what=f"event {types}")

    async def wait_state(self, task_id: str, state: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next((s for s in self.updates(task_id) if s["state"] == state), None)

        return await until(find, what=f"{task_id} {state}")

    async def offers(self, after: int = 0) -> list[dict[str, Any]]:
        event = await self.wait_for("OFFERS", after=after)
        return event["offers"]["offers"]

    async def close(self) -> None:
        if self.response is not None:
            self.response.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._acks:
            await asyncio.gather(*self._acks, return_exceptions=True)


def command_task(
    task_id: str, offer: dict[str, Any], *, cpus: float = 0.5, mem: float = 64.0, cmd: str = "sleep 1000"
) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
        "command": {"value": cmd},
    }


def launch(offer: dict[str, Any], *tasks: dict[str, Any], refuse: float = 0.0) -> dict[str, Any]:
    return {
        "offer_ids": [offer["id"]],
        "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}],
        "filters": {"refuse_seconds": refuse},
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
async def mesos_sim() -> AsyncIterator[sim.MesosSim]:
    async with sim.MesosSim(agents=3, seed=11, allocation_interval=0.05) as s:
        yield s


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def make_scheduler(
    mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> AsyncIterator[MakeScheduler]:
    made: list[Scheduler] = []

    async def make(*caps: str, url: str | None = None, **info: Any) -> Scheduler:
        s = Scheduler(session, url or mesos_sim.url)
        made.append(s)
        resp = await s.subscribe(framework_info("raw", *caps, **info))
        assert resp.status == 200
        return s

    yield make
    for s in made:
        await s.close()
