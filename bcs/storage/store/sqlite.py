"""The Store port on one SQLite file (JSON1), the embedded default.

Each collection is a table ``c<id>(id INTEGER PRIMARY KEY, doc TEXT)`` holding the document as JSON
(keys escaped by :func:`port.escape_key`, datetimes as ``{"$date": <ms>}``); ``bcs_collections`` and
``bcs_indexes`` name them. Conditions compile to SQL over ``json_extract``/``json_type`` with Mongo's
meaning (typed comparisons, arrays matched by element through ``json_each``, missing fields matching
``!=``). Indexes are expression indexes on ``ifnull(json_extract(...), x'00')``, which also makes a
missing field count as a value for uniqueness, as in Mongo. sqlite3 runs on one worker thread.
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

import orjson

from bcs import config, errors
from bcs.storage.store import conditions, port

__all__ = ["SqliteStore"]

T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS bcs_collections (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
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
_ELEMENT_DATE = "CASE WHEN j.type = 'object' THEN json_extract(j.value, '$.\"$date\"') END"


def _lit(path: conditions.Path, *, date: bool = False) -> str:
    """The JSON path of ``path`` as an SQL string literal (escaped keys hold no quote or backslash)."""
    text = "$" + "".join(f'."{port.escape_key(p)}"' for p in path) + ('."$date"' if date else "")
    return "'" + text.replace("'", "''") + "'"


def _index_expr(path: conditions.Path) -> str:
    return f"ifnull(json_extract(doc, {_lit(path)}), x'00')"


def _millis(value: datetime.datetime) -> int:
    return (port.to_millis(value) - port.EPOCH) // datetime.timedelta(milliseconds=1)


def _match_any(type_: str, value: str, date: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL true when a JSON value (its ``json_type``, SQL value and ``$date``) equals one of ``values``.

    Never NULL, so that NOT gives Mongo's ``$ne``/``$nin`` (missing fields match)."""
    terms: list[str] = []
    params: list[Any] = []
    strings = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    dates = [_millis(v) for v in values if isinstance(v, datetime.datetime)]
    if any(v is None for v in values):
        terms.append(f"ifnull({type_}, 'null') = 'null'")
    for flag in {v for v in values if isinstance(v, bool)}:
        terms.append(f"{type_} IS '{'true' if flag else 'false'}'")
    for group, check in (
        (strings, f"{type_} IS 'text'"),
        (numbers, f"ifnull({type_}, '') IN ('integer', 'real')"),
    ):
        if group:
            terms.append(f"({check} AND {value} IN ({', '.join('?' * len(group))}))")
            params += group
    if dates:
        terms.append(f"ifnull({date} IN ({', '.join('?' * len(dates))}), 0)")
        params += dates
    return ("(" + " OR ".join(terms) + ")" if terms else "0"), params


def _in(path: conditions.Path, values: Sequence[Any]) -> tuple[str, list[Any]]:
    if (
        len(path) == 1
        and path[0] in conditions.FEATURE_FIELDS
        and values
        and all(isinstance(v, str) for v in values)
    ):  # feature fields are scalars: a plain comparison the feature index can serve
        return f"{_index_expr(path)} IN ({', '.join('?' * len(values))})", list(values)
    lit = _lit(path)
    scalar, p1 = _match_any(
        f"json_type(doc, {lit})",
        f"json_extract(doc, {lit})",
        f"json_extract(doc, {_lit(path, date=True)})",
        values,
    )
    element, p2 = _match_any("j.type", "j.value", _ELEMENT_DATE, values)
    each = f"SELECT 1 FROM json_each(doc, {lit}) AS j WHERE {element}"
    array = f"(json_type(doc, {lit}) IS 'array' AND EXISTS ({each}))"
    return f"({scalar} OR {array})", p1 + p2


_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _range(cond: conditions.Range) -> tuple[str, list[Any]]:
    bounds = cond.bounds()
    lit = _lit(cond.path)
    first = next(iter(bounds.values()))
    if isinstance(first, datetime.datetime):
        value, check = (
            f"json_extract(doc, {_lit(cond.path, date=True)})",
            f"json_type(doc, {_lit(cond.path, date=True)}) IS NOT NULL",
        )
        bounds = {op: _millis(v) for op, v in bounds.items()}
    elif isinstance(first, str):
        value, check = f"json_extract(doc, {lit})", f"json_type(doc, {lit}) IS 'text'"
    else:
        value, check = (
            f"json_extract(doc, {lit})",
            f"ifnull(json_type(doc, {lit}), '') IN ('integer', 'real')",
        )
    terms = [check] + [f"{value} {_OPS[op]} ?" for op in bounds]
    return "(" + " AND ".join(terms) + ")", list(bounds.values())


def _sql(cond: conditions.Condition | None) -> tuple[str, list[Any]]:
    """``cond`` as an SQL boolean over column ``doc`` that is never NULL, with its parameters."""
    match cond:
        case None:
            return "1", []
        case conditions.Eq(path, value):
            return _in(path, [value])
        case conditions.Ne(path, value):
            sql, params = _in(path, [value])
            return f"NOT {sql}", params
        case conditions.In(path, values):
            return _in(path, values)
        case conditions.NotIn(path, values):
            sql, params = _in(path, values)
            return f"NOT {sql}", params
        case conditions.Exists(path, present):
            return f"json_type(doc, {_lit(path)}) IS {'NOT ' if present else ''}NULL", []
        case conditions.Range():
            return _range(cond)
        case conditions.And(items) | conditions.Or(items):
            if not items:
                return ("1" if isinstance(cond, conditions.And) else "0"), []
            parts = [_sql(c) for c in items]
            joiner = " AND " if isinstance(cond, conditions.And) else " OR "
            return "(" + joiner.join(s for s, _ in parts) + ")", [p for _, ps in parts for p in ps]
    raise TypeError(f"not a condition: {cond!r}")


def _where(cond: conditions.Condition | None, *, include_deleted: bool = False) -> tuple[str, list[Any]]:
    if include_deleted:
        return _sql(cond)
    return _sql(conditions.And(*([cond] if cond is not None else []), conditions.Ne((port.DELETED,), True)))


def _order(sort: Sequence[tuple[conditions.Path, int]]) -> str:
    """Mongo's order across types: missing/null, numbers, strings, objects, arrays, booleans, dates."""
    terms = []
    for path, direction in sort:
        lit, date = _lit(path), _lit(path, date=True)
        rank = (
            f"CASE WHEN json_type(doc, {date}) IS NOT NULL THEN 6 ELSE CASE json_type(doc, {lit}) "
            "WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 WHEN 'object' THEN 3 "
            "WHEN 'array' THEN 4 WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END END"
        )
        how = "ASC" if direction == 1 else "DESC"
        terms += [f"{rank} {how}", f"coalesce(json_extract(doc, {date}), json_extract(doc, {lit})) {how}"]
    return ", ".join([*terms, "id ASC"])


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqliteStore(port.Store):
    """Documents in ``path`` (created with its directory on start), WAL journal."""

    def __init__(self, path: pathlib.Path, settings: config.StoreSettings) -> None:
        self._path = path
        self._settings = settings
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        # Caches, emptied when a transaction rolls back (what it created is gone).
        self._tables: dict[str, str] = {}  # collection name -> table
        self._prepared: set[tuple[str, frozenset[str]]] = set()  # (collection, key fields)
        self._clock = port.Clock()

    # -- the worker thread --------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise errors.PortUnavailable("store: the SQLite store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._call, fn, *args))

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
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
            self._tables.clear()
            self._prepared.clear()
            raise
        conn.execute("COMMIT")
        return result

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

    def _table(self, collection: str, *, create: bool) -> str | None:
        port.check_collection(collection)
        if collection in self._tables:
            return self._tables[collection]
        conn = self._db()
        row = conn.execute("SELECT id FROM bcs_collections WHERE name = ?", (collection,)).fetchone()
        if row is None:
            if not create:
                return None
            cid = conn.execute("INSERT INTO bcs_collections (name) VALUES (?)", (collection,)).lastrowid
            conn.execute(f"CREATE TABLE c{cid} (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
            row = (cid,)
        self._tables[collection] = f"c{row[0]}"
        return self._tables[collection]

    def _indexes(self, table: str) -> list[port.IndexInfo]:
        rows = self._db().execute(
            "SELECT name, keys, is_unique FROM bcs_indexes WHERE collection_id = ? ORDER BY name",
            (int(table[1:]),),
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
            (int(table[1:]), wanted.name, _dumps([[list(p), d] for p, d in wanted.keys]), wanted.unique),
        ).lastrowid
        columns = ", ".join(f"{_index_expr(p)} {'ASC' if d == 1 else 'DESC'}" for p, d in wanted.keys)
        conn.execute(
            f"CREATE {'UNIQUE ' if wanted.unique else ''}INDEX {table}_i{iid} ON {table} ({columns})"
        )

    def _prepare(self, collection: str, keys: list[Mapping[str, Any]]) -> str:
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

    def _upsert(self, collection: str, items: Sequence[port.Upsert], now: Any) -> list[dict[str, Any]]:
        table = self._prepare(collection, [item.key for item in items])
        conn = self._db()
        out = []
        for item in items:
            fields = port.set_fields(item.key, item.data, item.extra)
            fields.update({port.UPDATE_TIME: now, port.DELETED: False})
            fields = port.encode(fields, date_marker=True)
            sql, params = _sql(conditions.key_match(item.key))
            row = conn.execute(f"SELECT id, doc FROM {table} WHERE {sql} LIMIT 1", params).fetchone()
            if row is None:
                doc = {**fields, port.CREATE_TIME: port.encode(now, date_marker=True)}
                conn.execute(f"INSERT INTO {table} (doc) VALUES (?)", (_dumps(doc),))
            else:
                before = orjson.loads(row[1])
                doc = {**before, **fields}
                if before.get(port.DELETED) is True:  # revived: a new life, a new createTime
                    doc[port.CREATE_TIME] = port.encode(now, date_marker=True)
                conn.execute(f"UPDATE {table} SET doc = ? WHERE id = ?", (_dumps(doc), row[0]))
            out.append(doc)
        return out

    def _soft_delete(self, collection: str, where: conditions.Condition | None, now: Any) -> int:
        table = self._table(collection, create=False)
        if table is None:
            return 0
        sql, params = _where(where)
        stamp = _dumps(port.encode(now, date_marker=True))
        set_doc = f"json_set(doc, '$.\"{port.DELETED}\"', json('true'), '$.\"{port.UPDATE_TIME}\"', json(?))"
        cur = self._db().execute(f"UPDATE {table} SET doc = {set_doc} WHERE {sql}", [stamp, *params])
        return cur.rowcount

    def _purge(self, collection: str, where: conditions.Condition | None) -> int:
        table = self._table(collection, create=False)
        if table is None:
            return 0
        sql, params = _where(where, include_deleted=True)
        return self._db().execute(f"DELETE FROM {table} WHERE {sql}", params).rowcount

    def _find(self, collection: str, query: conditions.Query) -> list[dict[str, Any]]:
        table = self._table(collection, create=False)
        if table is None or query.limit == 0:
            return []
        sql, params = _where(query.where, include_deleted=query.include_deleted)
        limit = -1 if query.limit is None else query.limit
        rows = self._db().execute(
            f"SELECT doc FROM {table} WHERE {sql} ORDER BY {_order(query.sort)} LIMIT ? OFFSET ?",
            [*params, limit, query.offset],
        )
        docs = [port.decode(orjson.loads(doc), date_marker=True) for (doc,) in rows]
        return [port.project(d, query.fields) for d in docs] if query.fields else docs

    def _count(self, collection: str, where: conditions.Condition | None, include_deleted: bool) -> int:
        table = self._table(collection, create=False)
        if table is None:
            return 0
        sql, params = _where(where, include_deleted=include_deleted)
        return self._db().execute(f"SELECT count(*) FROM {table} WHERE {sql}", params).fetchone()[0]

    def _drop_index(self, collection: str, name: str) -> None:
        table = self._table(collection, create=False)
        row = None
        if table is not None:
            row = (
                self._db()
                .execute(
                    "SELECT id FROM bcs_indexes WHERE collection_id = ? AND name = ?", (int(table[1:]), name)
                )
                .fetchone()
            )
        if row is None:
            raise errors.NotFound(f"store: {collection} has no index {name!r}")
        self._db().execute(f"DROP INDEX {table}_i{row[0]}")
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

    async def upsert_many(self, collection: str, items: Sequence[port.Upsert]) -> int:
        if not items:
            port.check_collection(collection)
            return 0
        docs = await self._run(self._write, self._upsert, collection, list(items), self._clock.now())
        return len(docs)

    async def soft_delete(self, collection: str, where: conditions.Condition | None) -> int:
        return await self._run(self._write, self._soft_delete, collection, where, self._clock.now())

    async def purge(self, collection: str, where: conditions.Condition | None) -> int:
        return await self._run(self._write, self._purge, collection, where)

    async def find(self, collection: str, query: conditions.Query) -> list[dict[str, Any]]:
        return await self._run(self._find, collection, query)

    async def count(
        self, collection: str, where: conditions.Condition | None, *, include_deleted: bool = False
    ) -> int:
        return await self._run(self._count, collection, where, include_deleted)

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
