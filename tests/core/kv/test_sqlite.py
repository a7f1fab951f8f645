"""What only the embedded adapter has to prove: persistence across reopen, bounded history, close."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator

import pytest

from bcs import config, errors
from bcs.core import kv as kv_mod
from bcs.core.kv import sqlite as kv_sqlite
from tests import services


@contextlib.asynccontextmanager
async def _opened(path: pathlib.Path, *, history: int = 10_000) -> AsyncIterator[kv_sqlite.SqliteKV]:
    store = kv_sqlite.SqliteKV(path, config.KvSettings(), history=history)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def test_revisions_and_keys_persist_across_reopen(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "kv.sqlite3"
    async with _opened(path) as kv:
        first = await kv.put("/a", b"1")
        second = await kv.put("/a", b"2")
        await kv.put("/b", b"3")
        await kv.delete("/b")
        revision = await kv.revision()

    async with _opened(path) as kv:
        assert await kv.revision() == revision
        found = await kv.get("/a")
        assert found is not None
        assert (found.value, found.create_revision, found.mod_revision, found.version) == (
            b"2",
            first,
            second,
            2,
        )
        assert await kv.get("/b") is None
        assert await kv.put("/a", b"4") == revision + 1
        # History written before the reopen is still replayable.
        watch = services.Collector(kv.watch_prefix("/", start_revision=first))
        try:
            events = await watch.wait_for(5)
        finally:
            await watch.close()
    assert [(e.type, e.key, e.revision) for e in events] == [
        ("put", "/a", first),
        ("put", "/a", second),
        ("put", "/b", second + 1),
        ("delete", "/b", second + 2),
        ("put", "/a", revision + 1),
    ]


async def test_leases_persist_across_reopen_and_still_expire(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "kv.sqlite3"
    async with _opened(path) as kv:
        lease = await kv.grant_lease(1)
        await kv.put("/leased", b"v", lease=lease.id)
    async with _opened(path) as kv:
        found = await kv.get("/leased")
        assert found is not None
        assert found.lease == lease.id
        await kv.refresh_lease(lease.id)  # a reopened store knows the lease

        async def gone() -> bool:
            return await kv.get("/leased") is None

        await services.eventually(gone, what="the reopened lease to expire")
        # A new lease never reuses the id of an old one.
        assert (await kv.grant_lease(5)).id > lease.id


async def test_history_is_bounded_and_compaction_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    async with _opened(tmp_path / "kv.sqlite3", history=5) as kv:
        revisions = [await kv.put(f"/k{i}", b"v") for i in range(10)]
        with pytest.raises(kv_mod.RevisionCompacted) as caught:
            async with contextlib.aclosing(kv.watch_prefix("/", start_revision=revisions[0])) as events:
                await anext(events)
        assert caught.value.compact_revision == revisions[-5]
        assert isinstance(caught.value, errors.BcsError)

        watch = services.Collector(kv.watch_prefix("/", start_revision=revisions[-5]))
        try:
            events = await watch.wait_for(5)
        finally:
            await watch.close()
        assert [e.revision for e in events] == revisions[-5:]


async def test_a_watcher_left_behind_the_history_fails_clearly(tmp_path: pathlib.Path) -> None:
    async with _opened(tmp_path / "kv.sqlite3", history=5) as kv:
        start = await kv.revision() + 1
        events = kv.watch_prefix("/", start_revision=start)
        async with contextlib.aclosing(events):
            await kv.put("/first", b"v")
            assert (await anext(events)).key == "/first"
            # The consumer stalls while more revisions are written than the history keeps.
            for i in range(10):
                await kv.put(f"/k{i}", b"v")
            with pytest.raises(kv_mod.RevisionCompacted):
                await anext(events)


async def test_writes_wake_a_waiting_watcher_in_revision_order(tmp_path: pathlib.Path) -> None:
    async with _opened(tmp_path / "kv.sqlite3") as kv:
        start = await kv.revision() + 1
        watch = services.Collector(kv.watch_prefix("/c/", start_revision=start))
        try:
            results = await asyncio.gather(*(kv.put(f"/c/{i:03d}", b"v") for i in range(200)))
            events = await watch.wait_for(200)
        finally:
            await watch.close()
    assert [e.revision for e in events] == sorted(results)
    assert len(set(results)) == 200


async def test_closed_store_refuses_calls(tmp_path: pathlib.Path) -> None:
    kv = kv_sqlite.SqliteKV(tmp_path / "kv.sqlite3", config.KvSettings())
    with pytest.raises(errors.PortUnavailable):
        await kv.get("/a")  # not started
    await kv.start()
    await kv.close()
    with pytest.raises(errors.PortUnavailable):
        await kv.put("/a", b"v")
    with pytest.raises(errors.PortUnavailable):
        await kv.refresh_lease(1)


async def test_open_kv_picks_the_embedded_adapter(tmp_path: pathlib.Path) -> None:
    kv = kv_mod.open_kv(config.KvSettings(), data_dir=tmp_path)
    assert isinstance(kv, kv_sqlite.SqliteKV)
    await kv.start()
    try:
        await kv.ping()
    finally:
        await kv.close()
    assert (tmp_path / "kv.sqlite3").exists()
