"""The KV port's contract: every test runs against SQLite and against etcd (the ``kv`` fixture)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bcs import errors
from bcs.core import kv as kv_mod
from tests import services


def _summary(events: list[kv_mod.WatchEvent]) -> list[tuple[str, str, bytes]]:
    return [(e.type, e.key, e.value) for e in events]


async def test_ping(kv: kv_mod.KV) -> None:
    await kv.ping()


async def test_get_put_delete(kv: kv_mod.KV, prefix: str) -> None:
    key = prefix + "a"
    assert await kv.get(key) is None

    rev1 = await kv.put(key, b"one")
    first = await kv.get(key)
    assert first == kv_mod.KeyValue(
        key=key, value=b"one", create_revision=rev1, mod_revision=rev1, version=1, lease=0
    )

    rev2 = await kv.put(key, b"two")
    assert rev2 > rev1
    second = await kv.get(key)
    assert second is not None
    assert (second.value, second.create_revision, second.mod_revision, second.version) == (
        b"two",
        rev1,
        rev2,
        2,
    )

    assert await kv.delete(key) is True
    assert await kv.get(key) is None
    assert await kv.delete(key) is False

    # A key created again starts a new life: version 1, a new create revision.
    rev3 = await kv.put(key, b"three")
    third = await kv.get(key)
    assert third is not None
    assert (third.create_revision, third.version) == (rev3, 1)


async def test_values_are_bytes_and_keys_unicode(kv: kv_mod.KV, prefix: str) -> None:
    key = prefix + "集群/ü"
    value = bytes(range(256))
    await kv.put(key, value)
    found = await kv.get(key)
    assert found is not None
    assert (found.key, found.value) == (key, value)
    assert [item.key for item in await kv.range(prefix)] == [key]


async def test_range_is_sorted_and_limited_to_the_prefix(kv: kv_mod.KV, prefix: str) -> None:
    inside = prefix + "dir/"
    for name in ("b", "a", "c/d", "a0", "B"):
        await kv.put(inside + name, name.encode())
    # Neighbours that share the string prefix without being under it.
    await kv.put(prefix + "dir", b"parent")
    await kv.put(prefix + "dir0", b"sibling")
    await kv.put(prefix + "dir.", b"sibling")

    found = await kv.range(inside)
    assert [item.key for item in found] == [inside + n for n in ("B", "a", "a0", "b", "c/d")]
    assert [item.value for item in found] == [b"B", b"a", b"a0", b"b", b"c/d"]
    assert await kv.range(prefix + "nothing/") == []


async def test_revisions_increase(kv: kv_mod.KV, prefix: str) -> None:
    before = await kv.revision()
    revisions = [await kv.put(f"{prefix}{i}", b"x") for i in range(5)]
    assert revisions == sorted(set(revisions))
    assert revisions[0] > before
    assert await kv.revision() >= revisions[-1]
    assert [item.mod_revision for item in await kv.range(prefix)] == revisions


async def test_delete_prefix(kv: kv_mod.KV, prefix: str) -> None:
    for name in ("x/1", "x/2", "x/3/4", "y/1"):
        await kv.put(prefix + name, b"v")
    await kv.put(prefix + "x", b"not under x/")
    assert await kv.delete_prefix(prefix + "x/") == 3
    assert [item.key for item in await kv.range(prefix)] == [prefix + "x", prefix + "y/1"]
    assert await kv.delete_prefix(prefix + "x/") == 0


async def test_watch_delivers_puts_and_deletes_in_order(kv: kv_mod.KV, prefix: str) -> None:
    start = await kv.revision() + 1
    watch = services.Collector(kv.watch_prefix(prefix + "w/", start_revision=start))
    try:
        r1 = await kv.put(prefix + "w/a", b"1")
        r2 = await kv.put(prefix + "w/b", b"2")
        await kv.put(prefix + "elsewhere", b"not watched")
        r3 = await kv.put(prefix + "w/a", b"3")
        await kv.put(prefix + "w/c", b"4")
        r4 = await kv.delete(prefix + "w/b") and await kv.revision()
        await kv.delete_prefix(prefix + "w/")

        events = await watch.wait_for(7)
    finally:
        await watch.close()
    assert _summary(events) == [
        ("put", prefix + "w/a", b"1"),
        ("put", prefix + "w/b", b"2"),
        ("put", prefix + "w/a", b"3"),
        ("put", prefix + "w/c", b"4"),
        ("delete", prefix + "w/b", b""),
        ("delete", prefix + "w/a", b""),
        ("delete", prefix + "w/c", b""),
    ]
    assert [e.revision for e in events[:3]] == [r1, r2, r3]
    assert events[4].revision <= r4
    # One revision for the whole delete_prefix, later than every change before it.
    assert events[5].revision == events[6].revision > events[4].revision > events[3].revision
    assert len(watch.events) == 7


async def test_watch_without_start_revision_begins_now(kv: kv_mod.KV, prefix: str) -> None:
    await kv.put(prefix + "before", b"old")
    watch = services.Collector(kv.watch_prefix(prefix))
    try:
        # The watch starts when its task first runs: put probes until one is seen.
        async def probe_seen() -> bool:
            await kv.put(prefix + "probe", b"p")
            return bool(watch.events)

        await services.eventually(probe_seen, what="the watch to start")
        await kv.put(prefix + "after", b"new")
        await services.eventually(lambda: any(e.key == prefix + "after" for e in watch.events))
    finally:
        await watch.close()
    assert {e.key for e in watch.events} == {prefix + "probe", prefix + "after"}


async def test_watch_replays_from_start_revision_inclusive(kv: kv_mod.KV, prefix: str) -> None:
    r1 = await kv.put(prefix + "k1", b"1")
    r2 = await kv.put(prefix + "k2", b"2")
    await kv.delete(prefix + "k1")
    watch = services.Collector(kv.watch_prefix(prefix, start_revision=r2))
    try:
        replayed = await watch.wait_for(2)
        r4 = await kv.put(prefix + "k4", b"4")
        events = await watch.wait_for(3)
    finally:
        await watch.close()
    assert r1 < r2
    assert _summary(replayed) == [("put", prefix + "k2", b"2"), ("delete", prefix + "k1", b"")]
    assert events[0].revision == r2
    assert (events[2].key, events[2].revision) == (prefix + "k4", r4)


async def test_watch_delivers_a_large_revision_whole(kv: kv_mod.KV, prefix: str) -> None:
    """700 deletes share one revision: more than one read batch of the SQLite change log."""
    await asyncio.gather(*(kv.put(f"{prefix}{i:04d}", b"v") for i in range(700)))
    start = await kv.revision() + 1
    watch = services.Collector(kv.watch_prefix(prefix, start_revision=start))
    try:
        assert await kv.delete_prefix(prefix) == 700
        last = await kv.put(prefix + "zz-last", b"after")
        events = await watch.wait_for(701)
    finally:
        await watch.close()
    assert [e.key for e in events[:700]] == [f"{prefix}{i:04d}" for i in range(700)]
    assert {e.type for e in events[:700]} == {"delete"}
    assert len({e.revision for e in events[:700]}) == 1
    assert (events[700].key, events[700].revision) == (prefix + "zz-last", last)


async def test_two_watchers_see_the_same_history(kv: kv_mod.KV, prefix: str) -> None:
    start = await kv.revision() + 1
    first = services.Collector(kv.watch_prefix(prefix, start_revision=start))
    second = services.Collector(kv.watch_prefix(prefix + "b", start_revision=start))
    try:
        await asyncio.gather(*(kv.put(f"{prefix}{c}{i}", b"v") for i in range(20) for c in "ab"))
        await first.wait_for(40)
        await second.wait_for(20)
    finally:
        await first.close()
        await second.close()
    revisions = [e.revision for e in first.events]
    assert revisions == sorted(revisions)
    assert [e for e in first.events if e.key.startswith(prefix + "b")] == second.events


async def test_lease_expiry_deletes_keys_and_is_watched(kv: kv_mod.KV, prefix: str) -> None:
    lease = await kv.grant_lease(1)
    assert lease.ttl >= 1  # etcd raises it to its minimum (2 s with default timings)
    await kv.put(prefix + "leased/a", b"1", lease=lease.id)
    await kv.put(prefix + "leased/b", b"2", lease=lease.id)
    await kv.put(prefix + "kept", b"3")
    found = await kv.get(prefix + "leased/a")
    assert found is not None
    assert found.lease == lease.id
    start = await kv.revision() + 1
    watch = services.Collector(kv.watch_prefix(prefix, start_revision=start))
    try:
        await services.eventually(
            lambda: _gone(kv, prefix + "leased/"), timeout=lease.ttl + 10, what="the lease's keys to expire"
        )
        events = await watch.wait_for(2)
    finally:
        await watch.close()
    assert _summary(events) == [("delete", prefix + "leased/a", b""), ("delete", prefix + "leased/b", b"")]
    assert await kv.get(prefix + "kept") is not None
    with pytest.raises(errors.NotFound):
        await kv.refresh_lease(lease.id)


async def _gone(kv: kv_mod.KV, prefix: str) -> bool:
    return await kv.range(prefix) == []


async def test_keep_alive_holds_the_key_past_its_ttl(kv: kv_mod.KV, prefix: str) -> None:
    lease = await kv.grant_lease(1)
    await kv.put(prefix + "alive", b"1", lease=lease.id)
    # Refresh for two full TTLs: the key must outlive its first deadline.
    until = time.monotonic() + 2 * lease.ttl + 0.5
    while time.monotonic() < until:
        await kv.refresh_lease(lease.id)
        assert await kv.get(prefix + "alive") is not None
        await asyncio.sleep(0.25)  # the refresh interval under test, not a synchronisation
    await services.eventually(
        lambda: _gone(kv, prefix + "alive"), timeout=lease.ttl + 10, what="expiry after refreshes stopped"
    )


async def test_revoke_deletes_now_and_is_idempotent(kv: kv_mod.KV, prefix: str) -> None:
    lease = await kv.grant_lease(60)
    await kv.put(prefix + "r", b"1", lease=lease.id)
    await kv.revoke_lease(lease.id)
    assert await kv.get(prefix + "r") is None
    await kv.revoke_lease(lease.id)
    with pytest.raises(errors.NotFound):
        await kv.refresh_lease(lease.id)
    with pytest.raises(errors.NotFound):
        await kv.put(prefix + "r", b"2", lease=lease.id)


async def test_put_without_lease_detaches_the_key(kv: kv_mod.KV, prefix: str) -> None:
    lease = await kv.grant_lease(60)
    try:
        await kv.put(prefix + "k", b"1", lease=lease.id)
        await kv.put(prefix + "k", b"2")
        found = await kv.get(prefix + "k")
        assert found is not None
        assert found.lease == 0
    finally:
        await kv.revoke_lease(lease.id)
    assert await kv.get(prefix + "k") is not None


async def test_bad_arguments(kv: kv_mod.KV) -> None:
    with pytest.raises(errors.BadRequest):
        await kv.grant_lease(0)
    with pytest.raises(errors.BadRequest):
        async for _ in kv.watch_prefix("/x", start_revision=0):
            pass


async def test_compare_and_swap_create_update_delete(kv: kv_mod.KV, prefix: str) -> None:
    key = prefix + "cas"
    assert await kv.compare_and_swap(key, b"v1", expected_mod_revision=0) is True
    created = await kv.get(key)
    assert created is not None
    assert (created.value, created.version) == (b"v1", 1)
    # Create again: the key exists now.
    assert await kv.compare_and_swap(key, b"other", expected_mod_revision=0) is False

    assert await kv.compare_and_swap(key, b"v2", expected_mod_revision=created.mod_revision + 1000) is False
    assert await kv.compare_and_swap(key, b"v2", expected_mod_revision=created.mod_revision) is True
    updated = await kv.get(key)
    assert updated is not None
    assert (updated.value, updated.version, updated.create_revision) == (b"v2", 2, created.create_revision)
    assert await kv.compare_and_swap(key, b"v3", expected_mod_revision=created.mod_revision) is False

    assert await kv.compare_and_swap(key, None, expected_mod_revision=created.mod_revision) is False
    assert await kv.get(key) is not None
    assert await kv.compare_and_swap(key, None, expected_mod_revision=updated.mod_revision) is True
    assert await kv.get(key) is None
    # Deleting an absent key "if absent" holds and changes nothing; "if at revision N" does not hold.
    assert await kv.compare_and_swap(key, None, expected_mod_revision=0) is True
    assert await kv.compare_and_swap(key, None, expected_mod_revision=updated.mod_revision) is False


async def test_compare_and_swap_with_lease(kv: kv_mod.KV, prefix: str) -> None:
    lease = await kv.grant_lease(60)
    await kv.compare_and_swap(prefix + "l", b"v", expected_mod_revision=0, lease=lease.id)
    found = await kv.get(prefix + "l")
    assert found is not None
    assert found.lease == lease.id
    await kv.revoke_lease(lease.id)
    assert await kv.get(prefix + "l") is None


async def test_compare_and_swap_has_one_winner(kv: kv_mod.KV, prefix: str) -> None:
    key = prefix + "race"
    await kv.put(key, b"start")
    found = await kv.get(key)
    assert found is not None
    results = await asyncio.gather(
        *(
            kv.compare_and_swap(key, f"w{i}".encode(), expected_mod_revision=found.mod_revision)
            for i in range(10)
        )
    )
    assert results.count(True) == 1
    winner = results.index(True)
    final = await kv.get(key)
    assert final is not None
    assert final.value == f"w{winner}".encode()


async def test_close_ends_open_watches(kv: kv_mod.KV) -> None:
    name = services.unique_prefix("close")
    watch = services.Collector(kv.watch_prefix(name))
    try:

        async def probe_seen() -> bool:
            await kv.put(name + "probe", b"p")
            return bool(watch.events)

        await services.eventually(probe_seen, what="the watch to start")
        await kv.delete_prefix(name)
        await kv.close()
        await watch.finished()
    finally:
        await watch.close()
    with pytest.raises(errors.PortUnavailable):
        await kv.get(name)
    await kv.close()  # closing twice is harmless
