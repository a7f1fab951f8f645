"""A watch that never runs dry keeps delivering when its bookmark falls due.

The watch loop waited for the next event with a timeout of zero once a bookmark was due, which
cancels the wait before it can take an event; with events always queued (so no bookmark was sent
and the due time never moved) every later wait timed out at once, the stream went silent, and
the watcher was closed as too slow only once 10,000 events had piled up (the data watch's
benchmark stalled after about a minute at 1,000 changes/s)."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import orjson

from bcs.sim.kube import cluster
from tests.services import eventually

BURSTS, PER_BURST = 12, 150


async def test_a_busy_watch_keeps_delivering_after_its_bookmark_is_due() -> None:
    async with cluster.KubeSim(
        nodes=1, seed=1, tls=False, node_heartbeat_interval=0, bookmark_interval=0.02
    ) as sim:
        cl = sim.cluster
        configmaps = cl.registry.builtin("", "configmaps")
        url = (
            f"{sim.url}/api/v1/namespaces/default/configmaps"
            f"?watch=true&allowWatchBookmarks=true&resourceVersion={cl.store.rv}&timeoutSeconds=20"
        )
        added: list[str] = []
        bookmarks = 0

        async def read(resp: aiohttp.ClientResponse) -> None:
            nonlocal bookmarks
            async for line in resp.content:
                event = orjson.loads(line)
                name = event["object"]["metadata"].get("name", "")
                if event["type"] == "ADDED" and name.startswith("cm-"):  # not the namespace's own
                    added.append(name)
                elif event["type"] == "BOOKMARK":
                    bookmarks += 1

        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            assert resp.status == 200
            reader = asyncio.create_task(read(resp))
            try:
                for burst in range(BURSTS):
                    for i in range(PER_BURST):  # a burst: the watcher's queue is never empty for long
                        cl.api.create(configmaps, "default", {"metadata": {"name": f"cm-{burst}-{i}"}})
                    await asyncio.sleep(0.03)  # load pacing: a bookmark falls due mid-burst
                await eventually(lambda: len(added) == BURSTS * PER_BURST, what="every ADDED event")
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        assert added == [f"cm-{b}-{i}" for b in range(BURSTS) for i in range(PER_BURST)]
        assert bookmarks >= 1  # bookmarks still flow between bursts
