"""The etcd adapter against a private etcd that the tests stop, restart and compact."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aetcd
import pytest

from bcs import config, errors
from bcs.core import kv as kv_mod
from bcs.core.kv import etcd as kv_etcd
from tests import services


@pytest.fixture
async def member(tmp_path: pathlib.Path) -> AsyncIterator[services.EtcdProcess]:
    started = await asyncio.to_thread(services.start_etcd, tmp_path)
    try:
        yield started
    finally:
        await asyncio.to_thread(started.remove)


async def test_watch_survives_an_etcd_restart(member: services.EtcdProcess, tmp_path: pathlib.Path) -> None:
    prefix = services.unique_prefix("restart")
    async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=member.url) as kv:
        watch = services.Collector(kv.watch_prefix(prefix, start_revision=await kv.revision() + 1))
        try:
            before = [await kv.put(f"{prefix}k{i}", f"v{i}".encode()) for i in range(5)]
            await kv.delete(f"{prefix}k0")
            await watch.wait_for(6)

            await asyncio.to_thread(member.stop)
            with pytest.raises(errors.PortUnavailable, match="unreachable"):
                await kv.ping()
            with pytest.raises(errors.PortUnavailable):
                await kv.put(prefix + "while-down", b"x")
            await asyncio.to_thread(member.start)  # same ports, same data dir

            await services.eventually(_answers(kv), what="the adapter to reach etcd again")
            after = [await kv.put(f"{prefix}k{i}", f"v{i}".encode()) for i in range(5, 10)]
            await kv.delete_prefix(f"{prefix}k9")
            events = await watch.wait_for(12, timeout=20)
        finally:
            await watch.close()

    assert [(e.type, e.key) for e in events] == [
        *(("put", f"{prefix}k{i}") for i in range(5)),
        ("delete", f"{prefix}k0"),
        *(("put", f"{prefix}k{i}") for i in range(5, 10)),
        ("delete", f"{prefix}k9"),
    ]
    assert [e.value for e in events if e.type == "put"] == [f"v{i}".encode() for i in range(10)]
    assert [e.revision for e in events if e.type == "put"] == before + after
    revisions = [e.revision for e in events]
    assert revisions == sorted(set(revisions))  # in order, none twice
    assert len(watch.events) == 12  # and nothing after


async def test_data_survives_an_etcd_restart(member: services.EtcdProcess, tmp_path: pathlib.Path) -> None:
    prefix = services.unique_prefix("restart")
    async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=member.url) as kv:
        revision = await kv.put(prefix + "kept", b"v")
        await asyncio.to_thread(member.stop)
        await asyncio.to_thread(member.start)
        await services.eventually(_answers(kv), what="the adapter to reach etcd again")
        found = await kv.get(prefix + "kept")
    assert found is not None
    assert (found.value, found.mod_revision) == (b"v", revision)


async def test_watch_started_while_etcd_is_down(member: services.EtcdProcess, tmp_path: pathlib.Path) -> None:
    prefix = services.unique_prefix("down")
    async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=member.url) as kv:
        start = await kv.revision() + 1
        await asyncio.to_thread(member.stop)
        watch = services.Collector(kv.watch_prefix(prefix, start_revision=start))
        try:
            with pytest.raises(errors.PortUnavailable):
                await kv.ping()
            await asyncio.to_thread(member.start)
            await services.eventually(_answers(kv), what="the adapter to reach etcd again")
            await kv.put(prefix + "a", b"1")
            events = await watch.wait_for(1, timeout=20)
        finally:
            await watch.close()
    assert [(e.type, e.key) for e in events] == [("put", prefix + "a")]


async def test_compacted_history_is_a_clear_error(
    member: services.EtcdProcess, tmp_path: pathlib.Path
) -> None:
    prefix = services.unique_prefix("compact")
    async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=member.url) as kv:
        first = await kv.put(prefix + "a", b"1")
        await kv.put(prefix + "a", b"2")
        last = await kv.put(prefix + "a", b"3")
        async with aetcd.Client(host="127.0.0.1", port=member.client_port) as raw:
            await raw.compact(last)
        with pytest.raises(kv_mod.RevisionCompacted) as caught:
            await _drain(kv.watch_prefix(prefix, start_revision=first))
        assert caught.value.compact_revision == last
        # From the compaction revision on, the history is still there.
        watch = services.Collector(kv.watch_prefix(prefix, start_revision=last))
        try:
            events = await watch.wait_for(1)
        finally:
            await watch.close()
        assert (events[0].value, events[0].revision) == (b"3", last)


async def test_unreachable_etcd_is_port_unavailable(tmp_path: pathlib.Path) -> None:
    url = f"http://127.0.0.1:{services.free_port()}"
    async with services.open_kv("etcd", tmp_path=tmp_path, etcd_url=url) as kv:
        calls = (kv.ping, lambda: kv.get("/x"), lambda: kv.range("/x"), lambda: kv.put("/x", b"1"))
        for call in (*calls, lambda: kv.grant_lease(5), lambda: kv.revoke_lease(1)):
            with pytest.raises(errors.PortUnavailable, match=f"etcd at 127.0.0.1:{url.rsplit(':', 1)[1]}"):
                await call()


async def test_second_endpoint_takes_over_reads(member: services.EtcdProcess, tmp_path: pathlib.Path) -> None:
    dead = f"http://127.0.0.1:{services.free_port()}"
    kv = kv_etcd.EtcdKV(config.KvSettings(backend="etcd", endpoints=(dead, member.url)))
    await kv.start()
    try:
        await kv.ping()  # the dead endpoint fails, the read moves on to the live one
        prefix = services.unique_prefix("failover")
        await kv.put(prefix + "a", b"1")  # and the writes stay there
        assert [item.key for item in await kv.range(prefix)] == [prefix + "a"]
    finally:
        await kv.close()


def _answers(kv: kv_mod.KV) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            await kv.ping()
        except errors.PortUnavailable:
            return False
        return True

    return check


async def _drain(events: AsyncIterator[kv_mod.WatchEvent]) -> None:
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        async for _ in events:
            pass
