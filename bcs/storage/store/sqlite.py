"""The Store port on one SQLite file (JSON1), the embedded default.

Each collection is a table ``c<id>(id INTEGER PRIMARY KEY, doc TEXT)`` holding the document as JSON
(keys escaped by :func:`port.escape_key`, datetimes as ``{"$date": <ms>}``); ``bcs_collections`` and
``bcs_indexes`` name them. Conditions compile to SQL with Mongo's meaning (:mod:`.sqlsearch`). Indexes
are expression indexes on ``ifnull(json_extract(...), x'00')``, which also makes a missing field count
as a value for uniqueness, as in Mongo. ``bcs_collections.arrays`` lists the top-level fields that
have ever held an array in the collection: conditions on the others compile to indexable SQL.
sqlite3 runs on one worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import functools
import pathlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import orjson

from bcs import config, errors
from bcs.storage.store import conditions, port, sqlsearch

__all__ = ["SqliteStore"]

T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS bcs_collections (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, arrays TEXT);
CREATE TABLE IF NOT EXISTS bcs_indexes (
    id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL, name TEXT NOT NULL,
    keys TEXT NOT NULL, is_unique INTEGER NOT NULL, UNIQUE (collection_id, name));
"""
# SQLite result codes that mean the file cannot be used now, rather than a bad statement.
_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
)


@attrs.define
class _Table:
    """A collection's table, and the (escaped) top-level fields that have held an array in it."""

    cid: int
    arrays: set[str]

    @property
    def name(self) -> str:
        return f"c{self.cid}"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqliteStore(port.Store):
    """Documents in ``path`` (created with its directory on start), WAL journal."""

    def __init__(self, path: pathlib.Path, settings: config.StoreSettings) -> None:
        self._path = path
        self._settings = settings
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        # Caches, emptied when a transaction rolls back (what it created is gone) and when another
        # connection has written to the file (PRAGMA data_version moved).
        self._tables: dict[str, _Table] = {}  # collection name -> table
        self._prepared: set[tuple[str, frozenset[str]]] = set()  # (collection, key fields)
        self._lookups: dict[tuple[Any, ...], tuple[str, list[tuple[bool, Any]]]] = {}  # see _row
        self._data_version: int | None = None
        self._clock = port.Clock()

    # -- the worker thread --------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise errors.PortUnavailable("store: the SQLite store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._call, fn, *args))

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            if self._conn is not None:
                (version,) = self._conn.execute("PRAGMA data_version").fetchone()
                if version != self._data_version:
                    self._forget()
                    self._data_version = version
            return fn(*args)
        except sqlite3.IntegrityError:
            raise errors.Conflict("store: a unique index refuses the write") from None
        except sqlite3.OperationalError as e:
            if (e.sqlite_errorname or "").startswith(_UNAVAILABLE):
                raise errors.PortUnavailable(f"store: SQLite {self._path}: {e}") from None
            raise

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in one immediate transaction (in the worker thread)."""
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(*args)
        except BaseException:
            conn.execute("ROLLBACK")
            self._forget()
            raise
        conn.execute("COMMIT")
        return result

    def _forget(self) -> None:
        self._tables.clear()
        self._prepared.clear()
        self._lookups.clear()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise errors.PortUnavailable("store: the SQLite store is not open")
        return self._conn

    def _open(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=self._settings.timeout)
        except (OSError, sqlite3.Error) as e:
            raise errors.PortUnavailable(f"store: cannot open {self._path}: {e}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(bcs_collections)")}
            if "arrays" not in columns:  # a file from before the column: NULL = not known yet
                conn.execute("ALTER TABLE bcs_collections ADD COLUMN arrays TEXT")
        except sqlite3.Error as e:  # not a database, read-only, locked...
            conn.close()
            raise errors.PortUnavailable(f"store: cannot use {self._path}: {e}") from None
        self._conn = conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def start(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="bcs-store-sqlite")
        try:
            await self._run(self._open)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
            executor.shutdown(wait=False)  # its queue is empty: the thread ends at once

    async def ping(self) -> None:
        await self._run(lambda: self._db().execute("SELECT count(*) FROM bcs_collections").fetchone())

    # -- tables and indexes (worker thread) ----------------------------------------------------

    def _table(self, collection: str, *, create: bool) -> _Table | None:
        port.check_collection(collection)
        if collection in self._tables:
            return self._tables[collection]
        conn = self._db()
        row = conn.execute("SELECT id, arrays FROM bcs_collections WHERE name = ?", (collection,)).fetchone()
        if row is None:
            if not create:
                return None
            cid = conn.execute(
                "INSERT INTO bcs_collections (name, arrays) VALUES (?, '[]')", (collection,)
            ).lastrowid
            assert cid is not None
            conn.execute(f"CREATE TABLE c{cid} (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
            row = (cid, "[]")
        cid, arrays = row
        if arrays is None:  # written before arrays were tracked: look once
            found = conn.execute(
                f"SELECT DISTINCT j.key FROM c{cid} AS t, json_each(t.doc) AS j WHERE j.type = 'array'"
            ).fetchall()
            arrays = _dumps(sorted(k for (k,) in found))
            conn.execute("UPDATE bcs_collections SET arrays = ? WHERE id = ?", (arrays, cid))
        self._tables[collection] = _Table(cid, set(orjson.loads(arrays)))
        return self._tables[collection]

    def _note_arrays(self, table: _Table, doc: Mapping[str, Any]) -> None:
        """Record the top-level fields of ``doc`` that hold an array (before anything reads them)."""
        new = {k for k, v in doc.items() if isinstance(v, list) and k not in table.arrays}
        if new:
            table.arrays |= new
            arrays = _dumps(sorted(table.arrays))
            self._db().execute("UPDATE bcs_collections SET arrays = ? WHERE id = ?", (arrays, table.cid))

    def _where(
        self, table: _Table, cond: conditions.Condition | None, *, include_deleted: bool = False
    ) -> tuple[str, list[Any]]:
        return sqlsearch.where(cond, arrays=table.arrays, include_deleted=include_deleted)

    def _indexes(self, table: _Table) -> list[port.IndexInfo]:
        rows = self._db().execute(
            "SELECT name, keys, is_unique FROM bcs_indexes WHERE collection_id = ? ORDER BY name",
            (table.cid,),
        )
        return [
            port.IndexInfo(name, tuple((tuple(p), d) for p, d in orjson.loads(keys)), bool(unique))
            for name, keys, unique in rows
        ]

    def _ensure_index(self, collection: str, wanted: port.IndexInfo) -> None:
        table = self._table(collection, create=True)
        assert table is not None
        for info in self._indexes(table):
            if info.name == wanted.name:
                if info == wanted:
                    return
                raise errors.Conflict(f"store: {collection} has another index named {wanted.name!r}")
            if info.keys == wanted.keys:
                raise errors.Conflict(f"store: {collection} has an index on these keys: {info.name!r}")
        conn = self._db()
        iid = conn.execute(
            "INSERT INTO bcs_indexes (collection_id, name, keys, is_unique) VALUES (?, ?, ?, ?)",
            (table.cid, wanted.name, _dumps([[list(p), d] for p, d in wanted.keys]), wanted.unique),
        ).lastrowid
        columns = ", ".join(
            f"{sqlsearch.index_expr(p)} {'ASC' if d == 1 else 'DESC'}" for p, d in wanted.keys
        )
        unique = "UNIQUE " if wanted.unique else ""
        conn.execute(f"CREATE {unique}INDEX {table.name}_i{iid} ON {table.name} ({columns})")

    def _prepare(self, collection: str, keys: list[Mapping[str, Any]]) -> _Table:
        """The collection's table, with its feature and deletion-flag indexes (once per process)."""
        table = self._table(collection, create=True)
        assert table is not None
        for key in keys:
            marker = (collection, frozenset(key))
            if marker in self._prepared:
                continue
            wanted = [port.IndexInfo(port.DELETED_INDEX, (((port.DELETED,), 1),))]
            feature = port.feature_index(collection, key)
            if feature is not None:
                wanted.append(port.IndexInfo(feature[0], tuple((p, 1) for p in feature[1]), True))
            for info in wanted:
                with contextlib.suppress(errors.Conflict):  # an equal index under another name
                    self._ensure_index(collection, info)
            self._prepared.add(marker)
        return table

    # -- operations (worker thread) -----------------------------------------------------------

    def _fields(self, item: port.Upsert, now: datetime.datetime, *, live: bool = True) -> dict[str, Any]:
        return port.written_fields(item, now, live=live, date_marker=True)

    def _row(self, table: _Table, key: Mapping[str, Any]) -> tuple[int, str] | None:
        """The ``(id, doc)`` of the document ``key`` names, deleted or not."""
        sql, params = self._lookup(table, key)
        return self._db().execute(f"SELECT id, doc FROM {table.name} WHERE {sql} LIMIT 1", params).fetchone()

    def _lookup(self, table: _Table, key: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The condition naming ``key`` as SQL and parameters, compiled once per shape of key.

        A key of strings compiles with a marker in place of each value; the parameters then say
        which are the key's values (a condition may use one twice) and which are constants."""
        if not all(type(v) is str for v in key.values()):
            return self._where(table, conditions.key_match(key), include_deleted=True)
        shape = (table.cid, tuple(key), frozenset(table.arrays))
        plan = self._lookups.get(shape)
        if plan is None:
            markers = {f"\0bcs-key-{i}\0": name for i, name in enumerate(key)}
            probe = {name: marker for marker, name in markers.items()}
            sql, params = self._where(table, conditions.key_match(probe), include_deleted=True)
            parts: list[tuple[bool, Any]] = []
            for p in params:
                name = markers.get(p) if isinstance(p, str) else None
                parts.append((True, name) if name is not None else (False, p))
            plan = sql, parts
            self._lookups[shape] = plan
        sql, compiled = plan
        return sql, [key[part] if named else part for named, part in compiled]

    def _upsert(
        self, collection: str, items: Sequence[port.Upsert], now: datetime.datetime
    ) -> list[dict[str, Any]]:
        table = self._prepare(collection, [item.key for item in items])
        conn = self._db()
        created = port.encode(now, date_marker=True)
        out = []
        for item in items:
            fields = self._fields(item, now)
            row = self._row(table, item.key)
            if row is None:
                doc = {**fields, port.CREATE_TIME: created}
                conn.execute(f"INSERT INTO {table.name} (doc) VALUES (?)", (_dumps(doc),))
            else:
                before = orjson.loads(row[1])
                doc = {**before, **port.updated_fields(item, fields)}
                if before.get(port.DELETED) is True:  # revived: a new life, a new createTime
                    doc[port.CREATE_TIME] = created
                conn.execute(f"UPDATE {table.name} SET doc = ? WHERE id = ?", (_dumps(doc), row[0]))
            self._note_arrays(table, fields)
            out.append(doc)
        return out

    def _insert(self, collection: str, items: Sequence[port.Upsert], now: datetime.datetime) -> None:
        table = self._prepare(collection, [item.key for item in items])
        created = port.encode(now, date_marker=True)
        docs = [{**self._fields(item, now), port.CREATE_TIME: created} for item in items]
        self._db().executemany(f"INSERT INTO {table.name} (doc) VALUES (?)", [(_dumps(d),) for d in docs])
        for doc in docs:
            self._note_arrays(table, doc)

    def _update(self, collection: str, items: Sequence[port.Upsert], now: datetime.datetime) -> int:
        table = self._table(collection, create=False)
        if table is None:
            return 0
        conn = self._db()
        updated = 0
        for item in items:
            fields = self._fields(item, now, live=False)
            row = self._row(table, item.key)
            if row is None:
                continue
            doc = {**orjson.loads(row[1]), **port.updated_fields(item, fields)}
            conn.execute(f"UPDATE {table.name} SET doc = ? WHERE id = ?", (_dumps(doc), row[0]))
            self._note_arrays(table, fields)
            updated += 1
        return updated

    def _soft_delete(
        self, collection: str, where: conditions.Condition | None, now: Any, include_deleted: bool
    ) -> int:
        table = self._table(collection, create=False)
        if table is None:
            return 0
        sql, params = self._where(table, where, include_deleted=include_deleted)
        stamp = _dumps(port.encode(now, date_marker=True))
        set_doc = f"json_set(doc, '$.\"{port.DELETED}\"', json('true'), '$.\"{port.UPDATE_TIME}\"', json(?))"
        cur = self._db().execute(f"UPDATE {table.name} SET doc = {set_doc} WHERE {sql}", [stamp, *params])
        return cur.rowcount

    def _purge(self, collection: str, where: conditions.Condition | None) -> int:
        table = self._table(collection, create=False)
        if table is None:
            return 0
        sql, params = self._where(table, where, include_deleted=True)
        return self._db().execute(f"DELETE FROM {table.name} WHERE {sql}", params).rowcount

    def _select(self, table: _Table, query: conditions.Query, *, total: bool) -> tuple[str, list[Any]]:
        """The SELECT of ``query``; with ``total``, the number of all matches as a second column."""
        sql, params = self._where(table, query.where, include_deleted=query.include_deleted)
        limit = -1 if query.limit is None else query.limit
        order = sqlsearch.order_by(query.sort)
        if not total:
            return (
                f"SELECT doc FROM {table.name} WHERE {sql} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, limit, query.offset],
            )
        # The window counts every match; it sees ids only, the page's documents are joined after
        # (and sorted again: a join does not keep the order of its input).
        page = (
            f"SELECT id AS pid, count(*) OVER () AS total FROM {table.name} WHERE {sql} "
            f"ORDER BY {order} LIMIT ? OFFSET ?"
        )
        return (
            f"WITH page AS ({page}) SELECT doc, total FROM page "
            f"JOIN {table.name} ON id = pid ORDER BY {order}",
            [*params, limit, query.offset],
        )

    def _docs(self, query: conditions.Query, raw: Sequence[str]) -> list[dict[str, Any]]:
        docs = [port.decode(orjson.loads(doc), date_marker=True) for doc in raw]
        return [port.project(d, query.fields) for d in docs] if query.fields else docs

    def _find(self, collection: str, query: conditions.Query) -> list[dict[str, Any]]:
        table = self._table(collection, create=False)
        if table is None or query.limit == 0:
            return []
        sql, params = self._select(table, query, total=False)
        return self._docs(query, [doc for (doc,) in self._db().execute(sql, params)])

    def _find_page(self, collection: str, query: conditions.Query) -> tuple[list[dict[str, Any]], int]:
        table = self._table(collection, create=False)
        if table is None:
            return [], 0
        if query.limit == 0:
            return [], self._count(collection, query.where, query.include_deleted)
        sql, params = self._select(table, query, total=True)
        rows = self._db().execute(sql, params).fetchall()
        if not rows and query.offset:  # past the end: the window saw no row to count on
            return [], self._count(collection, query.where, query.include_deleted)
        return self._docs(query, [doc for doc, _ in rows]), rows[0][1] if rows else 0

    def _count(self, collection: str, where: conditions.Condition | None, include_deleted: bool) -> int:
        table = self._table(collection, create=False)
        if table is None:
            return 0
        sql, params = self._where(table, where, include_deleted=include_deleted)
        return self._db().execute(f"SELECT count(*) FROM {table.name} WHERE {sql}", params).fetchone()[0]

    def _drop_index(self, collection: str, name: str) -> None:
        table = self._table(collection, create=False)
        row = None
        if table is not None:
            row = (
                self._db()
                .execute("SELECT id FROM bcs_indexes WHERE collection_id = ? AND name = ?", (table.cid, name))
                .fetchone()
            )
        if table is None or row is None:
            raise errors.NotFound(f"store: {collection} has no index {name!r}")
        self._db().execute(f"DROP INDEX {table.name}_i{row[0]}")
        self._db().execute("DELETE FROM bcs_indexes WHERE id = ?", (row[0],))

    # -- the port -----------------------------------------------------------------------------

    async def upsert(
        self,
        collection: str,
        key: Mapping[str, Any],
        data: Mapping[str, Any] | None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        item = port.Upsert(key, data, extra or {})
        (doc,) = await self._run(self._write, self._upsert, collection, [item], self._clock.now())
        return port.decode(doc, date_marker=True)

    async def upsert_many(self, collection: str, items: Sequence[port.Upsert]) -> list[dict[str, Any]]:
        if not items:
            port.check_collection(collection)
            return []
        docs = await self._run(self._write, self._upsert, collection, list(items), self._clock.now())
        return [port.decode(port.times(d), date_marker=True) for d in docs]

    async def insert_many(self, collection: str, items: Sequence[port.Upsert]) -> None:
        port.check_collection(collection)
        if items:
            await self._run(self._write, self._insert, collection, list(items), self._clock.now())

    async def update_many(self, collection: str, items: Sequence[port.Upsert]) -> int:
        port.check_collection(collection)
        if not items:
            return 0
        return await self._run(self._write, self._update, collection, list(items), self._clock.now())

    async def soft_delete(
        self, collection: str, where: conditions.Condition | None, *, include_deleted: bool = False
    ) -> int:
        now = self._clock.now()
        return await self._run(self._write, self._soft_delete, collection, where, now, include_deleted)

    async def purge(self, collection: str, where: conditions.Condition | None) -> int:
        return await self._run(self._write, self._purge, collection, where)

    async def find(self, collection: str, query: conditions.Query) -> list[dict[str, Any]]:
        return await self._run(self._find, collection, query)

    async def count(
        self, collection: str, where: conditions.Condition | None, *, include_deleted: bool = False
    ) -> int:
        return await self._run(self._count, collection, where, include_deleted)

    async def find_page(self, collection: str, query: conditions.Query) -> tuple[list[dict[str, Any]], int]:
        # One statement: the page and, as a window over every match, their number.
        return await self._run(self._find_page, collection, query)

    async def collections(self) -> list[str]:
        rows = await self._run(lambda: self._db().execute("SELECT name FROM bcs_collections").fetchall())
        return sorted(name for (name,) in rows)

    async def ensure_index(
        self,
        collection: str,
        name: str,
        keys: Sequence[tuple[str | Sequence[str], int]],
        *,
        unique: bool = False,
    ) -> None:
        wanted = port.IndexInfo(name, port.index_keys(name, keys), unique)
        await self._run(self._write, self._ensure_index, collection, wanted)

    async def drop_index(self, collection: str, name: str) -> None:
        await self._run(self._write, self._drop_index, collection, name)

    async def list_indexes(self, collection: str) -> list[port.IndexInfo]:
        def read() -> list[port.IndexInfo]:
            table = self._table(collection, create=False)
            return [] if table is None else self._indexes(table)

        return await self._run(read)
