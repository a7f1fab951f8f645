"""The v1 scheduler client: RecordIO across chunks, failover keeping the id, heartbeat timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bcs.plugins.mesos import client, recordio
from bcs.sim.mesos import sim
from tests.services import eventually


def test_recordio_decodes_records_split_anywhere() -> None:
    data = recordio.encode({"type": "HEARTBEAT"}) + recordio.encode({"type": "X", "x": {"v": "é" * 30}})
    for size in (1, 2, 3, 7, len(data)):
        decoder = recordio.Decoder()
        out: list[Any] = []
        for i in range(0, len(data), size):
            out += decoder.feed(data[i : i + size])
        assert out == [{"type": "HEARTBEAT"}, {"type": "X", "x": {"v": "é" * 30}}]
        assert decoder.pending == 0


async def _run(c: client.SchedulerClient) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(c.run())


async def test_subscribes_over_split_chunks_and_fails_over_with_the_same_id() -> None:
    events: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    async with sim.MesosSim(agents=2, seed=1, allocation_interval=0.05, max_chunk=7) as s:
        c = client.SchedulerClient(
            [s.url], {"user": "root", "name": "t", "failover_timeout": 60.0}, on_event=on_event
        )
        task = await _run(c)
        try:
            await eventually(lambda: any(e["type"] == "OFFERS" for e in events), what="offers")
            first = c.framework_id
            assert first
            assert c.stream_id
            s.restart_master(0.2)
            await eventually(lambda: c.subscriptions >= 2 and c.stream_id, timeout=15, what="re-subscribed")
            assert c.framework_id == first
            await c.call("REVIVE")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await c.close()


async def test_silence_beyond_the_heartbeats_resubscribes() -> None:
    subscribes: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        subscribes.append(await request.json())
        resp = web.StreamResponse(headers={"Mesos-Stream-Id": "s1", "Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        sub = {"framework_id": {"value": "F-1"}, "heartbeat_interval_seconds": 0.05}
        await resp.write(recordio.encode({"type": "SUBSCRIBED", "subscribed": sub}))
        await asyncio.sleep(30)  # then silence
        return resp

    app = web.Application()
    app.router.add_post("/api/v1/scheduler", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def on_event(event: dict[str, Any]) -> None:
        pass

    c = client.SchedulerClient([url], {"user": "root", "name": "t"}, on_event=on_event, backoff_initial=0.01)
    task = await _run(c)
    try:
        await eventually(lambda: len(subscribes) >= 2, what="a second SUBSCRIBE")
        assert subscribes[1]["framework_id"] == {"value": "F-1"}
        assert subscribes[1]["subscribe"]["framework_info"]["id"] == {"value": "F-1"}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await c.close()
        await runner.cleanup()
