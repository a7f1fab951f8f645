"""The embedded KV adapter: one SQLite file in WAL mode, with etcd's revision model and watch replay.

Every sqlite3 call runs on one dedicated thread, which also serialises the writes; the event loop
only awaits. A write commits the key rows, its change-log rows and the new store revision in one
transaction, then wakes the in-process watchers, which read the change log from their own cursor:
that gives revision order, replay from any retained revision, and no lost wake-ups. The change log
keeps the last ``history`` revisions. Lease deadlines live in memory (a lease gets its full TTL
again when the file is reopened, as etcd does after a restart) and a guarded background task
revokes the expired ones. One process per file: watchers are woken only by writes of this process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import pathlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bcs import errors
from bcs.core import tasks
from bcs.core.kv import port

if TYPE_CHECKING:
    from bcs.config import KvSettings

__all__ = ["SqliteKV"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('revision', 1), ('compacted', 0);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY, value BLOB NOT NULL, create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease != 0;
CREATE TABLE IF NOT EXISTS changes (
    revision INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, key TEXT NOT NULL,
    value BLOB NOT NULL, PRIMARY KEY (revision, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY AUTOINCREMENT, ttl INTEGER NOT NULL);
"""

_LAST_SEQ = 1 << 62  # a cursor (rev, _LAST_SEQ) means "everything of rev has been seen"
_BATCH = 500  # change-log rows a watcher reads per query
_KV_COLUMNS = "key, value, create_revision, mod_revision, version, lease"


def _prefix_clause(column: str = "key") -> str:
    # The range condition lets SQLite use the key index; substr() makes the match exact.
    return f"{column} >= :prefix AND substr({column}, 1, length(:prefix)) = :prefix"


def _row_to_kv(row: tuple[Any, ...]) -> port.KeyValue:
    key, value, create, mod, version, lease = row
    return port.KeyValue(
        key=key, value=bytes(value), create_revision=create, mod_revision=mod, version=version, lease=lease
    )


class _Txn:
    """One write transaction: the revision it will commit as, and the events it emits."""

    def __init__(self, conn: sqlite3.Connection, revision: int) -> None:
        self.conn = conn
        self.revision = revision
        self.events = 0

    def emit(self, type_: str, key: str, value: bytes = b"") -> None:
        self.conn.execute(
            "INSERT INTO changes VALUES (?, ?, ?, ?, ?)", (self.revision, self.events, type_, key, value)
        )
        self.events += 1

    def delete_rows(self, where: str, params: dict[str, Any]) -> int:
        keys = [r[0] for r in self.conn.execute(f"SELECT key FROM kv WHERE {where} ORDER BY key", params)]
        self.conn.execute(f"DELETE FROM kv WHERE {where}", params)
        for key in keys:
            self.emit("delete", key)
        return len(keys)


class SqliteKV(port.KV):
    """The KV port on one SQLite file; ``history`` is how many revisions watches can replay."""

    def __init__(self, path: pathlib.Path, settings: KvSettings, *, history: int = 10_000) -> None:
        self._path = pathlib.Path(path)
        self._settings = settings
        self._history = history
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used on the executor thread only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._revision = 0  # last committed revision known on the loop
        self._changed = asyncio.Event()  # replaced after every commit; watchers wait on the old one
        self._deadlines: dict[int, float] = {}  # lease id -> time.monotonic() deadline
        self._ttls: dict[int, int] = {}
        self._lease_wakeup = asyncio.Event()
        self._reaper: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="bcs-kv-sqlite"
        )
        revision, leases = await self._call(self._db_open)
        self._revision = revision
        now = time.monotonic()
        for lease_id, ttl in leases:
            self._ttls[lease_id] = ttl
            self._deadlines[lease_id] = now + ttl
        self._reaper = tasks.create_guarded_task(name="kv-sqlite-leases", coro=self._reap_leases())

    async def close(self) -> None:
        if self._closed or self._executor is None:
            self._closed = True
            return
        self._closed = True
        self._wake_watchers()
        if self._reaper is not None:
            await tasks.stop_tasks([self._reaper])
        # Queued behind any query a watcher submitted before close, so those finish first.
        await asyncio.wrap_future(self._executor.submit(self._db_close))
        self._executor.shutdown(wait=False)

    async def ping(self) -> None:
        await self._call(self._db_revision)

    # -- plumbing --------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed or self._executor is None:
            raise errors.PortUnavailable(f"kv: sqlite store {self._path} is not open")
        try:
            return await asyncio.wrap_future(self._executor.submit(fn, *args))
        except sqlite3.OperationalError as e:
            raise errors.PortUnavailable(f"kv: sqlite store {self._path}: {e}") from e

    def _db_open(self) -> tuple[int, list[tuple[int, int]]]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode never corrupts; a power loss may drop the last commits only.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
        self._conn = conn
        return self._db_revision(), list(conn.execute("SELECT id, ttl FROM leases"))

    def _db_close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _db_revision(self) -> int:
        assert self._conn is not None
        return self._conn.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()[0]

    def _db_write(self, body: Callable[[_Txn], T]) -> T:
        """Run ``body`` in one IMMEDIATE transaction; bump the revision only if it emitted events."""
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            txn = _Txn(conn, self._db_revision() + 1)
            result = body(txn)
            if txn.events:
                conn.execute("UPDATE meta SET value = ? WHERE name = 'revision'", (txn.revision,))
                self._db_prune(conn, txn.revision)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if txn.events:
            # Woken from here, not from the awaiting coroutine, so a cancelled caller still wakes them.
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._committed, txn.revision)
        return result

    def _db_prune(self, conn: sqlite3.Connection, revision: int) -> None:
        horizon = revision - self._history
        if horizon > 0:
            conn.execute("DELETE FROM changes WHERE revision <= ?", (horizon,))
            conn.execute("UPDATE meta SET value = max(value, ?) WHERE name = 'compacted'", (horizon,))

    def _committed(self, revision: int) -> None:
        self._revision = max(self._revision, revision)
        self._wake_watchers()

    def _wake_watchers(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, key: str) -> port.KeyValue | None:
        return await self._call(self._db_get, key)

    def _db_get(self, key: str) -> port.KeyValue | None:
        assert self._conn is not None
        row = self._conn.execute(f"SELECT {_KV_COLUMNS} FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else _row_to_kv(row)

    async def range(self, prefix: str) -> list[port.KeyValue]:
        return await self._call(self._db_range, prefix)

    def _db_range(self, prefix: str) -> list[port.KeyValue]:
        assert self._conn is not None
        sql = f"SELECT {_KV_COLUMNS} FROM kv WHERE {_prefix_clause()} ORDER BY key"
        return [_row_to_kv(r) for r in self._conn.execute(sql, {"prefix": prefix})]

    async def revision(self) -> int:
        return await self._call(self._db_revision)

    # -- writes ----------------------------------------------------------------------------------

    async def put(self, key: str, value: bytes, *, lease: int = 0) -> int:
        return await self._call(self._db_write, lambda txn: self._txn_put(txn, key, value, lease))

    def _txn_put(self, txn: _Txn, key: str, value: bytes, lease: int) -> int:
        if lease and txn.conn.execute("SELECT 1 FROM leases WHERE id = ?", (lease,)).fetchone() is None:
            raise errors.NotFound(f"kv: lease {lease} not found")
        row = txn.conn.execute("SELECT create_revision, version FROM kv WHERE key = ?", (key,)).fetchone()
        create, version = (txn.revision, 1) if row is None else (row[0], row[1] + 1)
        txn.conn.execute(
            "INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?, ?)",
            (key, bytes(value), create, txn.revision, version, lease),
        )
        txn.emit("put", key, bytes(value))
        return txn.revision

    async def delete(self, key: str) -> bool:
        deleted = await self._call(self._db_write, lambda txn: txn.delete_rows("key = :key", {"key": key}))
        return deleted > 0

    async def delete_prefix(self, prefix: str) -> int:
        return await self._call(
            self._db_write, lambda txn: txn.delete_rows(_prefix_clause(), {"prefix": prefix})
        )

    async def compare_and_swap(
        self, key: str, value: bytes | None, *, expected_mod_revision: int, lease: int = 0
    ) -> bool:
        def body(txn: _Txn) -> bool:
            row = txn.conn.execute("SELECT mod_revision FROM kv WHERE key = ?", (key,)).fetchone()
            if (0 if row is None else row[0]) != expected_mod_revision:
                return False
            if value is None:
                txn.delete_rows("key = :key", {"key": key})
            else:
                self._txn_put(txn, key, value, lease)
            return True

        return await self._call(self._db_write, body)

    # -- watch -----------------------------------------------------------------------------------

    async def watch_prefix(
        self, prefix: str, *, start_revision: int | None = None
    ) -> AsyncIterator[port.WatchEvent]:
        if start_revision is None:
            cursor = (await self._call(self._db_revision), _LAST_SEQ)
        elif start_revision < 1:
            raise errors.BadRequest(f"kv: start_revision must be >= 1, got {start_revision}")
        else:
            cursor = (start_revision - 1, _LAST_SEQ)
        while not self._closed:
            changed = self._changed  # taken before reading, so a commit in between is not missed
            if cursor[0] >= self._revision:
                await changed.wait()
                continue
            try:
                events, cursor = await self._call(self._db_changes, prefix, cursor)
            except errors.PortUnavailable:
                if self._closed:
                    return
                raise
            for event in events:
                yield event

    def _db_changes(
        self, prefix: str, cursor: tuple[int, int]
    ) -> tuple[list[port.WatchEvent], tuple[int, int]]:
        """The events after ``cursor`` and the cursor to continue from, in one consistent read."""
        conn = self._conn
        assert conn is not None
        compacted = conn.execute("SELECT value FROM meta WHERE name = 'compacted'").fetchone()[0]
        if cursor[0] < compacted:
            raise port.RevisionCompacted(
                f"kv: revision {cursor[0] + 1} is compacted; the oldest kept is {compacted + 1}",
                compact_revision=compacted + 1,
            )
        current = self._db_revision()
        rows = conn.execute(
            f"SELECT revision, seq, type, key, value FROM changes WHERE (revision, seq) > (:rev, :seq)"
            f" AND {_prefix_clause()} ORDER BY revision, seq LIMIT {_BATCH}",
            {"rev": cursor[0], "seq": cursor[1], "prefix": prefix},
        ).fetchall()
        events = [port.WatchEvent(type=t, key=k, value=bytes(v), revision=r) for r, _, t, k, v in rows]
        if len(rows) < _BATCH:
            # Every change up to ``current`` has been looked at, matching or not.
            return events, (max(current, cursor[0]), _LAST_SEQ)
        return events, (rows[-1][0], rows[-1][1])

    # -- leases ----------------------------------------------------------------------------------

    async def grant_lease(self, ttl: int) -> port.Lease:
        if ttl < 1:
            raise errors.BadRequest(f"kv: lease TTL must be >= 1 s, got {ttl}")
        lease_id = await self._call(self._db_grant, ttl)
        self._ttls[lease_id] = ttl
        self._deadlines[lease_id] = time.monotonic() + ttl
        self._lease_wakeup.set()
        return port.Lease(id=lease_id, ttl=ttl)

    def _db_grant(self, ttl: int) -> int:
        assert self._conn is not None
        cursor = self._conn.execute("INSERT INTO leases (ttl) VALUES (?)", (ttl,))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def refresh_lease(self, lease_id: int) -> None:
        self._check_open()
        deadline = self._deadlines.get(lease_id)
        if deadline is None or deadline <= time.monotonic():
            raise errors.NotFound(f"kv: lease {lease_id} not found or expired")
        self._deadlines[lease_id] = time.monotonic() + self._ttls[lease_id]

    async def revoke_lease(self, lease_id: int) -> None:
        self._check_open()
        self._deadlines.pop(lease_id, None)
        await self._call(self._db_write, lambda txn: self._txn_revoke(txn, lease_id))
        self._ttls.pop(lease_id, None)

    def _txn_revoke(self, txn: _Txn, lease_id: int) -> int:
        txn.conn.execute("DELETE FROM leases WHERE id = ?", (lease_id,))
        return txn.delete_rows("lease = :lease", {"lease": lease_id})

    def _check_open(self) -> None:
        if self._closed or self._executor is None:
            raise errors.PortUnavailable(f"kv: sqlite store {self._path} is not open")

    async def _reap_leases(self) -> None:
        """Revoke expired leases; runs from start() until close()."""
        while True:
            now = time.monotonic()
            expired = [lease_id for lease_id, deadline in self._deadlines.items() if deadline <= now]
            for lease_id in expired:
                # Gone from the deadlines first, so a refresh racing with the revoke gets NotFound.
                self._deadlines.pop(lease_id, None)
            for lease_id in expired:
                try:
                    await self.revoke_lease(lease_id)
                except errors.PortUnavailable:
                    logger.exception("kv: cannot revoke expired lease %s; retrying", lease_id)
                    self._deadlines[lease_id] = time.monotonic() + 1.0
            self._lease_wakeup.clear()
            next_deadline = min(self._deadlines.values(), default=None)
            timeout = None if next_deadline is None else max(0.0, next_deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lease_wakeup.wait(), timeout)
