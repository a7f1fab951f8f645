"""An in-memory copy of one KV prefix, kept current by a watch, so hot reads cost no I/O.

The auth middleware looks a token up on every request; a KV round trip each time (a SQLite call on
its thread, or an etcd RPC) would cost more than the whole gateway budget. The mirror lists the
prefix, then watches it from the listing's revision, applying each change only when it is newer
than what it holds for that key (so replays and local refreshes are idempotent). Writers in this
process call :meth:`KvMirror.refresh` after a write so their own change is visible at once; other
processes' changes arrive through the watch (milliseconds on etcd).

Until the first listing completes, :attr:`KvMirror.synced` is False and callers read the KV port
directly. After that the mirror keeps answering through a KV outage: no process can change the
data while the KV port is down, so what it holds is still the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bcs import errors
from bcs.core import kv as kv_mod
from bcs.core import tasks

__all__ = ["KvMirror"]

logger = logging.getLogger(__name__)

_RETRY_START, _RETRY_MAX = 0.1, 5.0


class KvMirror:
    """Decoded values of every key under ``prefix``; ``decode(key, value)`` runs once per change."""

    def __init__(self, kv: kv_mod.KV, prefix: str, *, decode: Callable[[str, bytes], Any]) -> None:
        self._kv = kv
        self._prefix = prefix
        self._decode = decode
        # key -> (decoded value, or None for a deletion we know of; the revision of that state)
        self._items: dict[str, tuple[Any, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def start(self) -> None:
        """Start the list-and-watch task (it retries while the KV port is unavailable)."""
        if self._task is None:
            self._task = tasks.create_guarded_task(
                name=f"kv-mirror {self._prefix}", coro=self._run(), eternal=False
            )

    async def close(self) -> None:
        if self._task is not None:
            await tasks.stop_tasks([self._task], timeout=5.0)
            self._task = None

    # -- reads -----------------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The decoded value of ``key``, or None; only meaningful once :attr:`synced`."""
        found = self._items.get(key)
        return None if found is None else found[0]

    def values(self, prefix: str) -> list[Any]:
        """Decoded values of the live keys under ``prefix``, sorted by key."""
        return [v for k, (v, _) in sorted(self._items.items()) if v is not None and k.startswith(prefix)]

    # -- updates ---------------------------------------------------------------------------------

    async def refresh(self, key: str) -> None:
        """Read ``key`` from the KV port now (after this process wrote it)."""
        found = await self._kv.get(key)
        if found is None:
            self._apply(key, None, await self._kv.revision())
        else:
            self._apply(key, found.value, found.mod_revision)

    def _apply(self, key: str, value: bytes | None, revision: int) -> None:
        held = self._items.get(key)
        if held is not None and held[1] >= revision:
            return  # a replay, or older than a refresh we already applied
        if value is None:
            self._items[key] = (None, revision)
            return
        try:
            self._items[key] = (self._decode(key, value), revision)
        except Exception as e:  # one corrupt value must not stop the mirror
            logger.warning("kv mirror: skipping unreadable %s: %s", key, e)
            self._items[key] = (None, revision)

    async def _run(self) -> None:
        delay = _RETRY_START
        while True:
            try:
                await self._sync_and_watch()
                return  # the watch ended: the KV port is closing
            except kv_mod.RevisionCompacted:
                logger.info("kv mirror of %s fell behind a compaction; listing again", self._prefix)
            except errors.PortUnavailable as e:
                logger.warning("kv mirror of %s: %s; retrying in %.1fs", self._prefix, e.message, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)

    async def _sync_and_watch(self) -> None:
        revision = await self._kv.revision()
        listed = await self._kv.range(self._prefix)
        seen = set()
        for item in listed:
            seen.add(item.key)
            self._apply(item.key, item.value, item.mod_revision)
        for key, (_, held) in list(self._items.items()):
            if key not in seen and held <= revision:
                self._apply(key, None, revision)  # deleted while we were not watching
        self._synced.set()
        events = self._kv.watch_prefix(self._prefix, start_revision=revision + 1)
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            async for event in events:
                self._apply(event.key, event.value if event.type == "put" else None, event.revision)
