"""The Store port on MongoDB, through pymongo's asyncio API (``pymongo.AsyncMongoClient``).

Conditions compile to Mongo filters one to one. Keys are escaped (:func:`port.escape_key`) so any
JSON object round-trips; ties in sorts, and unsorted results, follow ``_id`` (creation order).
An upsert is one ``findAndModify`` (a second round trip only when it revives a soft-deleted
document); :meth:`MongoStore.upsert_many` is one query for soft-deleted keys plus one bulk write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pymongo
import pymongo.errors
from pymongo import ReturnDocument

from bcs import config, errors
from bcs.storage.store import conditions, port

__all__ = ["MongoStore"]

_LIVE = {port.DELETED: {"$ne": True}}
_NOTHING = {"_id": {"$in": []}}  # `$or: []` is an error in Mongo; this matches no document
_DUPLICATE_KEY = 11000
_INDEX_CONFLICTS = (85, 86)  # IndexOptionsConflict, IndexKeySpecsConflict
_NAMESPACE_NOT_FOUND = 26
_AUTH_FAILURES = (13, 18)  # Unauthorized, AuthenticationFailed


def _short(exc: BaseException) -> str:
    text = str(exc).split(", full error:")[0].split("Topology Description")[0]
    return text.strip().rstrip(",")[:300]


@contextlib.contextmanager
def _mapped(what: str) -> Iterator[None]:
    """pymongo errors as bcs errors: unreachable → PortUnavailable, duplicate key → Conflict."""
    try:
        yield
    except pymongo.errors.BulkWriteError as e:
        codes = {err.get("code") for err in e.details.get("writeErrors", [])}
        if _DUPLICATE_KEY in codes:
            raise errors.Conflict(f"store: {what}: a unique index refuses the write") from None
        raise
    except pymongo.errors.OperationFailure as e:
        if e.code == _DUPLICATE_KEY:
            raise errors.Conflict(f"store: {what}: a unique index refuses the write") from None
        if e.code in _AUTH_FAILURES:
            raise errors.PortUnavailable(f"store: MongoDB refuses bcs ({what}): {_short(e)}") from None
        raise
    except (pymongo.errors.ConnectionFailure, pymongo.errors.InvalidOperation) as e:
        raise errors.PortUnavailable(f"store: MongoDB unreachable ({what}): {_short(e)}") from None


def _path(path: conditions.Path) -> str:
    return ".".join(port.escape_key(p) for p in path)


def _unpath(field: str) -> conditions.Path:
    return tuple(port.unescape_key(p) for p in field.split("."))


def _filter(cond: conditions.Condition | None) -> dict[str, Any]:
    match cond:
        case None:
            return {}
        case conditions.Eq(path, value):
            return {_path(path): value}
        case conditions.Ne(path, value):
            return {_path(path): {"$ne": value}}
        case conditions.In(path, values):
            return {_path(path): {"$in": list(values)}}
        case conditions.NotIn(path, values):
            return {_path(path): {"$nin": list(values)}}
        case conditions.Exists(path, present):
            return {_path(path): {"$exists": present}}
        case conditions.Range(path):
            return {_path(path): {f"${op}": v for op, v in cond.bounds().items()}}
        case conditions.And(items):
            return _all_of([_filter(c) for c in items])
        case conditions.Or(items):
            return {"$or": [_filter(c) for c in items]} if items else dict(_NOTHING)
    raise TypeError(f"not a condition: {cond!r}")


def _all_of(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One flat filter when the parts name distinct fields (servers plan those best), else ``$and``."""
    parts = [p for p in parts if p]
    merged: dict[str, Any] = {}
    for part in parts:
        if any(k.startswith("$") or k in merged for k in part):
            return {"$and": parts}
        merged.update(part)
    return merged


def _where(cond: conditions.Condition | None, *, include_deleted: bool = False) -> dict[str, Any]:
    return _all_of([_filter(cond), {} if include_deleted else _LIVE])


def _ident(names: frozenset[str], doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a key (or a stored document, seen through a key's field names) identifies."""
    ident = tuple((n, doc.get(n)) for n in sorted(names))
    if names <= set(conditions.FEATURE_FIELDS) and "namespace" not in names:
        ident += (("namespace?", "namespace" in doc),)
    return ident


class MongoStore(port.Store):
    """Documents in database ``settings.database``, one Mongo collection per store collection."""

    def __init__(self, settings: config.StoreSettings) -> None:
        self._settings = settings
        self._client: pymongo.AsyncMongoClient[dict[str, Any]] | None = None
        self._clock = port.Clock()
        self._prepared: set[tuple[str, frozenset[str]]] = set()
        self._known: set[str] = set()  # collections seen to exist

    async def start(self) -> None:
        try:
            self._client = pymongo.AsyncMongoClient(
                self._settings.url,
                serverSelectionTimeoutMS=int(self._settings.timeout * 1000),
                tz_aware=True,
            )
        except pymongo.errors.ConfigurationError as e:
            raise errors.ConfigError(f"store.url: {e}") from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def _db(self) -> Any:
        if self._client is None:
            raise errors.PortUnavailable("store: the MongoDB store is not started")
        return self._client[self._settings.database]

    def _col(self, collection: str) -> Any:
        return self._db()[port.check_collection(collection)]

    async def ping(self) -> None:
        with _mapped("ping"):
            await self._db().command("ping")

    # -- writes -------------------------------------------------------------------------------

    async def _prepare(self, collection: str, key: Mapping[str, Any]) -> None:
        """Create the collection's feature and deletion-flag indexes once per process."""
        marker = (collection, frozenset(key))
        if marker in self._prepared:
            return
        feature = port.feature_index(collection, key)
        if feature is not None:
            with contextlib.suppress(errors.Conflict):  # an equal index exists under another name
                await self.ensure_index(collection, feature[0], [(p, 1) for p in feature[1]], unique=True)
        with contextlib.suppress(errors.Conflict):
            await self.ensure_index(collection, port.DELETED_INDEX, [((port.DELETED,), 1)])
        self._prepared.add(marker)

    def _set(self, item: port.Upsert, now: Any) -> dict[str, Any]:
        fields = port.set_fields(item.key, item.data, item.extra)
        fields[port.UPDATE_TIME] = now
        fields[port.DELETED] = False
        return port.encode(fields, date_marker=False)

    async def upsert(
        self,
        collection: str,
        key: Mapping[str, Any],
        data: Mapping[str, Any] | None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        col = self._col(collection)
        item = port.Upsert(key, data, extra or {})
        now = self._clock.now()
        fields = self._set(item, now)
        match = _filter(conditions.key_match(key))
        await self._prepare(collection, key)
        with _mapped(f"upsert into {collection}"):
            before = await col.find_one_and_update(
                match,
                {"$set": fields, "$setOnInsert": {port.CREATE_TIME: now}},
                upsert=True,
                projection={"_id": 0},
                return_document=ReturnDocument.BEFORE,
            )
            if before is None:
                stored = {**fields, port.CREATE_TIME: now}
            elif before.get(port.DELETED) is True:  # revived: a new life, a new createTime
                await col.update_one(match, {"$set": {port.CREATE_TIME: now}})
                stored = {**before, **fields, port.CREATE_TIME: now}
            else:
                stored = {**before, **fields}
        return port.decode(stored, date_marker=False)

    async def upsert_many(self, collection: str, items: Sequence[port.Upsert]) -> int:
        col = self._col(collection)
        if not items:
            return 0
        now = self._clock.now()
        sets = [self._set(item, now) for item in items]
        for names in {frozenset(item.key) for item in items}:
            await self._prepare(collection, dict.fromkeys(names))
        revived = await self._deleted_keys(col, items)
        ops = []
        for item, fields in zip(items, sets, strict=True):
            match = _filter(conditions.key_match(item.key))
            if _ident(frozenset(item.key), item.key) in revived:
                update = {"$set": {**fields, port.CREATE_TIME: now}}
            else:
                update = {"$set": fields, "$setOnInsert": {port.CREATE_TIME: now}}
            ops.append(pymongo.UpdateOne(match, update, upsert=True))
        with _mapped(f"upsert into {collection}"):
            await col.bulk_write(ops, ordered=True)
        return len(items)

    async def _deleted_keys(self, col: Any, items: Sequence[port.Upsert]) -> set[tuple[Any, ...]]:
        """The keys among ``items`` whose document is soft-deleted now (they get a new createTime)."""
        shapes = {frozenset(item.key) for item in items}
        common = frozenset.intersection(*shapes)
        query: dict[str, Any] = {port.DELETED: True}
        for name in common:
            query[name] = {"$in": list({item.key[name] for item in items})}
        names = frozenset().union(*shapes) | {"namespace"}
        with _mapped("upsert"):
            docs = await col.find(query, dict.fromkeys(names, 1) | {"_id": 0}).to_list()
        return {_ident(shape, doc) for doc in docs for shape in shapes}

    async def _exists(self, collection: str) -> bool:
        """Whether the collection exists (remembered once seen: the port never drops one)."""
        if collection not in self._known:
            with _mapped("list collections"):
                found = await self._db().list_collection_names(filter={"name": collection})
            if not found:
                return False
            self._known.add(collection)
        return True

    async def soft_delete(self, collection: str, where: conditions.Condition | None) -> int:
        col = self._col(collection)
        # Some MongoDB-wire servers create the collection on an update that matches nothing.
        if not await self._exists(collection):
            return 0
        update = {"$set": {port.DELETED: True, port.UPDATE_TIME: self._clock.now()}}
        with _mapped(f"delete from {collection}"):
            result = await col.update_many(_where(where), update)
        return result.modified_count

    async def purge(self, collection: str, where: conditions.Condition | None) -> int:
        with _mapped(f"purge {collection}"):
            result = await self._col(collection).delete_many(_where(where, include_deleted=True))
        return result.deleted_count

    # -- reads --------------------------------------------------------------------------------

    async def find(self, collection: str, query: conditions.Query) -> list[dict[str, Any]]:
        col = self._col(collection)
        if query.limit == 0:
            return []
        projection: dict[str, int] = {_path(p): 1 for p in query.fields}
        projection["_id"] = 0
        sort = [(_path(p), d) for p, d in query.sort] + [("_id", 1)]
        with _mapped(f"find in {collection}"):
            cursor = col.find(_where(query.where, include_deleted=query.include_deleted), projection)
            cursor = cursor.sort(sort).skip(query.offset)
            if query.limit is not None:
                cursor = cursor.limit(query.limit)
            docs = await cursor.to_list()
        return [port.decode(d, date_marker=False) for d in docs]

    async def count(
        self, collection: str, where: conditions.Condition | None, *, include_deleted: bool = False
    ) -> int:
        with _mapped(f"count in {collection}"):
            return await self._col(collection).count_documents(_where(where, include_deleted=include_deleted))

    async def collections(self) -> list[str]:
        with _mapped("list collections"):
            names = await self._db().list_collection_names()
        return sorted(n for n in names if not n.startswith("system."))

    # -- indexes ------------------------------------------------------------------------------

    async def ensure_index(
        self,
        collection: str,
        name: str,
        keys: Sequence[tuple[str | Sequence[str], int]],
        *,
        unique: bool = False,
    ) -> None:
        wanted = port.IndexInfo(name, port.index_keys(name, keys), unique)
        for info in await self.list_indexes(collection):
            if info.name == name:
                if info == wanted:
                    return
                raise errors.Conflict(f"store: {collection} has another index named {name!r}")
            if info.keys == wanted.keys:
                raise errors.Conflict(f"store: {collection} has an index on these keys: {info.name!r}")
        spec = [(_path(p), d) for p, d in wanted.keys]
        try:
            with _mapped(f"create index {name} on {collection}"):
                await self._col(collection).create_index(spec, name=name, unique=unique)
        except pymongo.errors.OperationFailure as e:
            if e.code in _INDEX_CONFLICTS:
                raise errors.Conflict(
                    f"store: index {name!r} conflicts with an index of {collection}"
                ) from None
            raise

    async def drop_index(self, collection: str, name: str) -> None:
        if name not in {info.name for info in await self.list_indexes(collection)}:
            raise errors.NotFound(f"store: {collection} has no index {name!r}")
        with _mapped(f"drop index {name} on {collection}"):
            await self._col(collection).drop_index(name)

    async def list_indexes(self, collection: str) -> list[port.IndexInfo]:
        out = []
        try:
            with _mapped(f"list indexes of {collection}"):
                cursor = await self._col(collection).list_indexes()
                raw = await cursor.to_list()
        except pymongo.errors.OperationFailure as e:
            if e.code == _NAMESPACE_NOT_FOUND:
                return []
            raise
        for ix in raw:
            if ix["name"] == "_id_":
                continue
            keys = tuple((_unpath(field), int(d)) for field, d in ix["key"].items())
            out.append(port.IndexInfo(ix["name"], keys, bool(ix.get("unique", False))))
        return sorted(out, key=lambda i: i.name)
