"""Watch streams: framing, options, shutdown, and writes made through another process (two apps
sharing one store and the RabbitMQ broker)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from .conftest import PREFIX, app_client
from .test_dynamic import ok, pod

NS = f"{PREFIX}/k8s/dynamic/namespace_resources/clusters"
WATCH = f"{PREFIX}/dynamic/watch"
WAIT = 15.0


class Watch:
    """Reads one watch response: concatenated JSON objects, each available as soon as it is sent."""

    def __init__(self, resp: Any) -> None:
        self.resp = resp
        self.decoder = json.JSONDecoder()
        self.buffer = ""

    @classmethod
    async def open(cls, client: Any, path: str, options: dict[str, Any] | None = None, **kw: Any) -> Watch:
        resp = await client.post(path, json=options or {}, **kw)
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/json"
        return cls(resp)

    async def next(self) -> dict[str, Any] | None:
        """The next object; None at the end of the stream."""
        async with asyncio.timeout(WAIT):
            while True:
                text = self.buffer.lstrip()
                if text:
                    try:
                        obj, end = self.decoder.raw_decode(text)
                    except json.JSONDecodeError:
                        pass
                    else:
                        self.buffer = text[end:]
                        return obj
                chunk = await self.resp.content.readany()
                if not chunk:
                    assert not text, f"the stream ended inside an object: {text!r}"
                    return None
                self.buffer += chunk.decode()

    async def rest(self) -> list[dict[str, Any]]:
        out = []
        while (obj := await self.next()) is not None:
            out.append(obj)
        return out


async def put(client: Any, cluster: str, name: str, data: dict[str, Any], *, kind: str = "Pod") -> None:
    await ok(await client.put(f"{NS}/{cluster}/namespaces/default/{kind}/{name}", json={"data": data}))


async def test_changes_stream_until_max_events_then_watch_break(client: Any) -> None:
    watch = await Watch.open(client, f"{WATCH}/BCS-K8S-1/Pod", {"maxEvents": 4})
    await put(client, "BCS-K8S-1", "p1", pod("p1", v="1"))
    await put(client, "BCS-K8S-2", "p1", pod("p1"))  # another cluster: not ours
    await put(client, "BCS-K8S-1", "c1", {}, kind="ConfigMap")  # another type: not ours
    first = await watch.next()  # flushed while the stream is still open
    assert first is not None
    assert first["type"] == 1
    assert (first["value"]["clusterId"], first["value"]["resourceName"]) == ("BCS-K8S-1", "p1")
    assert first["value"]["data"] == pod("p1", v="1")
    assert first["value"]["_isBcsObjectDeleted"] is False
    await put(client, "BCS-K8S-1", "p1", pod("p1", v="2"))
    await put(client, "BCS-K8S-1", "p1", pod("p1", v="2"))  # no-op update: still an event
    await ok(await client.delete(f"{NS}/BCS-K8S-1/namespaces/default/Pod/p1"))
    await put(client, "BCS-K8S-1", "p2", pod("p2"))  # past maxEvents
    rest = await watch.rest()
    assert [e["type"] for e in rest] == [3, 3, 2, -1]
    assert rest[-1]["value"] is None
    assert rest[2]["value"]["_isBcsObjectDeleted"] is True
    assert rest[2]["value"]["data"] == pod("p1", v="2")


async def test_must_diff_drops_no_op_updates(client: Any) -> None:
    watch = await Watch.open(client, f"{WATCH}/BCS-K8S-1/Deployment", {"maxEvents": 3, "mustDiff": "data"})
    for v in ("1", "1", "2", "2", "2", "3"):
        await put(client, "BCS-K8S-1", "d1", {"v": v}, kind="Deployment")
    events = await watch.rest()
    assert [(e["type"], e["value"]["data"]["v"]) for e in events[:-1]] == [(1, "1"), (3, "2"), (3, "3")]
    assert events[-1]["type"] == -1


async def test_timeout_ends_with_watch_break(client: Any) -> None:
    watch = await Watch.open(client, f"{WATCH}/BCS-K8S-1/Pod", {"timeout": 200_000_000, "selfOnly": True})
    assert await watch.rest() == [{"type": -1, "value": None}]


async def test_server_shutdown_ends_open_watches(client: Any) -> None:
    watch = await Watch.open(client, f"{WATCH}/BCS-K8S-1/Pod")
    await put(client, "BCS-K8S-1", "p1", pod("p1"))
    assert (await watch.next() or {}).get("type") == 1
    await client.app.shutdown()  # what a graceful stop runs first
    assert await watch.rest() == [{"type": -1, "value": None}]


async def test_events_watch(client: Any) -> None:
    watch = await Watch.open(
        client, f"{PREFIX}/events/watch", {"maxEvents": 1}, params={"clusterId": "BCS-K8S-1"}
    )
    event = {"clusterId": "BCS-K8S-2", "id": "other", "eventTime": 1700000000}
    await ok(await client.put(f"{PREFIX}/events", json=event))
    await ok(await client.put(f"{PREFIX}/events", json={**event, "clusterId": "BCS-K8S-1", "id": "mine"}))
    events = await watch.rest()
    assert [e["type"] for e in events] == [1, -1]
    assert (events[0]["value"]["id"], events[0]["value"]["eventTime"]) == ("mine", "2023-11-14T22:13:20.000Z")


@pytest.mark.parametrize(
    "options", [b"{bad", b"[1]", b'{"maxEvents": -1}', b'{"timeout": "1s"}', b'{"selfOnly": "yes"}']
)
async def test_bad_watch_options_are_400(client: Any, options: bytes) -> None:
    resp = await client.post(f"{WATCH}/BCS-K8S-1/Pod", data=options)
    assert resp.status == 400
    assert (await resp.json())["result"] is False


async def test_a_watch_sees_writes_made_through_another_process(
    aiohttp_client: Any, make_settings: Any, rabbit_sections: dict[str, Any]
) -> None:
    # Two bcs processes on one store and one broker (the same settings, separate apps).
    a = await app_client(aiohttp_client, make_settings(**rabbit_sections))
    b = await app_client(aiohttp_client, make_settings(**rabbit_sections))
    on_b = await Watch.open(b, f"{WATCH}/BCS-K8S-1/ConfigMap", {"maxEvents": 2})  # not a published type
    on_a = await Watch.open(a, f"{WATCH}/BCS-K8S-1/ConfigMap", {"maxEvents": 2})
    await put(a, "BCS-K8S-1", "cm", {"k": "from-a"}, kind="ConfigMap")
    await put(b, "BCS-K8S-1", "cm", {"k": "from-b"}, kind="ConfigMap")
    for watch in (on_a, on_b):
        events = await watch.rest()
        assert [(e["type"], e["value"]["data"]["k"]) for e in events[:-1]] == [(1, "from-a"), (3, "from-b")]
        assert events[-1]["type"] == -1
