"""The Store port on MongoDB, through pymongo's asyncio API (``pymongo.AsyncMongoClient``).

Conditions compile to Mongo filters one to one. Keys are escaped (:func:`port.escape_key`) so any
JSON object round-trips; ties in sorts, and unsorted results, follow ``_id`` (creation order).
An upsert is one ``findAndModify`` (a second round trip only when it revives a soft-deleted
document); :meth:`MongoStore.upsert_many` of more than one item is one query for the keys' current
times (and deletion flags) plus one ordered bulk write; :meth:`MongoStore.insert_many` is one
unordered ``insert``. A long ``$in`` on a key field goes out in pieces of
:data:`mongosearch.IN_CHUNK` values (see :func:`mongosearch.split`), the results put back in ``_id``
order. The connect and server-selection timeouts come from ``[store]``, and every request is bounded
by ``socket_timeout``, so a server that is down or stalls is a
:class:`~bcs.errors.PortUnavailable`, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import pymongo
import pymongo.errors
from pymongo import ReturnDocument

from bcs import config, errors
from bcs.storage.store import conditions, mongosearch, port

__all__ = ["MongoStore"]

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


def _ident(names: frozenset[str], doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a key (or a stored document, seen through a key's field names) identifies."""
    ident = tuple((n, doc.get(n)) for n in sorted(names))
    if names <= set(conditions.FEATURE_FIELDS) and "namespace" not in names:
        ident += (("namespace?", "namespace" in doc),)
    return ident


def _pieces(
    where: conditions.Condition | None, *, include_deleted: bool, split: bool = True
) -> tuple[bool, list[Any]]:
    """How to ask for the documents matching ``where``: ``(False, filters)`` for a plain filter, or
    ``(True, pipelines)`` when it needs ``$match`` stages (see :func:`mongosearch.stages`). With
    ``split``, in pieces (:func:`mongosearch.split`) that together select each document once."""
    stages = mongosearch.stages(where, include_deleted=include_deleted)
    if len(stages) < 2:
        plain = mongosearch.where(where, include_deleted=include_deleted)
        return False, mongosearch.split(plain) if split else [plain]
    if not split:
        return True, [stages]
    return True, [[{"$match": head}, *stages[1:]] for head in mongosearch.split(stages[0]["$match"])]


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
                connectTimeoutMS=int(self._settings.connect_timeout * 1000),
                tz_aware=True,
            )
        except pymongo.errors.ConfigurationError as e:
            raise errors.ConfigError(f"store.url: {e}") from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    @contextlib.asynccontextmanager
    async def _call(self, what: str) -> AsyncIterator[None]:
        """One request: its errors mapped, and bounded by ``socket_timeout``.

        The bound is an asyncio timeout, not pymongo's ``socketTimeoutMS``: with that option set,
        pymongo (4.x on Python 3.11) writes through ``asyncio.wait_for``, which can swallow a
        cancellation that arrives as the write completes, and a task being stopped then runs on."""
        limit = self._settings.socket_timeout
        try:
            async with asyncio.timeout(limit):
                with _mapped(what):
                    yield
        except TimeoutError:
            raise errors.PortUnavailable(
                f"store: MongoDB did not answer within {limit:g}s ({what})"
            ) from None

    def _db(self) -> Any:
        if self._client is None:
            raise errors.PortUnavailable("store: the MongoDB store is not started")
        return self._client[self._settings.database]

    def _col(self, collection: str) -> Any:
        return self._db()[port.check_collection(collection)]

    async def ping(self) -> None:
        async with self._call("ping"):
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

    def _set(self, item: port.Upsert, now: Any, *, live: bool = True) -> dict[str, Any]:
        return port.written_fields(item, now, live=live, date_marker=False)

    def _update(self, item: port.Upsert, fields: Mapping[str, Any]) -> dict[str, Any]:
        # An upsert's insert takes the key's fields from the filter's equalities, and setting them
        # again would cost a Mongo-wire server an index check per field.
        return port.updated_fields(item, fields)

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
        match = mongosearch.filter_of(conditions.key_match(key))
        await self._prepare(collection, key)
        async with self._call(f"upsert into {collection}"):
            before = await col.find_one_and_update(
                match,
                {"$set": self._update(item, fields), "$setOnInsert": {port.CREATE_TIME: now}},
                upsert=True,
                projection={"_id": 0},
                return_document=ReturnDocument.BEFORE,
            )
            if before is None:
                stored = {**fields, port.CREATE_TIME: now}
            elif before.get(port.DELETED) is True:  # revived: a new life, a new createTime
                await col.update_one(match, {"$set": {port.CREATE_TIME: now}})
                stored = {**before, **self._update(item, fields), port.CREATE_TIME: now}
            else:
                stored = {**before, **self._update(item, fields)}
        return port.decode(stored, date_marker=False)

    async def upsert_many(self, collection: str, items: Sequence[port.Upsert]) -> list[dict[str, Any]]:
        col = self._col(collection)
        if not items:
            return []
        if len(items) == 1:  # one findAndModify instead of a lookup and a bulk write
            (item,) = items
            return [port.times(await self.upsert(collection, item.key, item.data, extra=item.extra))]
        now = self._clock.now()
        sets = [self._set(item, now) for item in items]
        for names in {frozenset(item.key) for item in items}:
            await self._prepare(collection, dict.fromkeys(names))
        created = await self._create_times(col, items)
        ops, out = [], []
        for item, fields in zip(items, sets, strict=True):
            match = mongosearch.filter_of(conditions.key_match(item.key))
            ident = _ident(frozenset(item.key), item.key)
            fields = self._update(item, fields)
            if ident in created:  # live now: it keeps its createTime
                update = {"$set": fields, "$setOnInsert": {port.CREATE_TIME: now}}
                out.append({port.CREATE_TIME: created[ident], port.UPDATE_TIME: now})
            else:  # new, or revived after a soft delete: a new createTime
                update = {"$set": {**fields, port.CREATE_TIME: now}}
                out.append({port.CREATE_TIME: now, port.UPDATE_TIME: now})
            ops.append(pymongo.UpdateOne(match, update, upsert=True))
        async with self._call(f"upsert into {collection}"):
            # Ordered: a repeated key's last write wins, and SecantusDB applies an ordered batch
            # about 8% cheaper than an unordered one (a failure fails the call either way).
            await col.bulk_write(ops, ordered=True)
        return [port.decode(t, date_marker=False) for t in out]

    async def _create_times(self, col: Any, items: Sequence[port.Upsert]) -> dict[tuple[Any, ...], Any]:
        """The createTime of each live document among the keys of ``items``."""
        shapes = {frozenset(item.key) for item in items}
        common = frozenset.intersection(*shapes)
        query: dict[str, Any] = {}
        for name in common:
            values = list({item.key[name] for item in items})
            query[name] = values[0] if len(values) == 1 else {"$in": values}
        names = frozenset().union(*shapes) | {"namespace"}
        projection = dict.fromkeys(names, 1) | {port.CREATE_TIME: 1, port.DELETED: 1, "_id": 0}
        docs = []
        async with self._call("upsert"):
            # The key fields only (an index serves them whole); live ones are picked here.
            for piece in mongosearch.split(query):
                docs += await col.find(piece, projection).to_list()
        live = [d for d in docs if d.get(port.DELETED) is not True]
        return {_ident(shape, doc): doc.get(port.CREATE_TIME) for doc in live for shape in shapes}

    async def insert_many(self, collection: str, items: Sequence[port.Upsert]) -> None:
        col = self._col(collection)
        if not items:
            return
        now = self._clock.now()
        docs = [{**self._set(item, now), port.CREATE_TIME: now} for item in items]
        for names in {frozenset(item.key) for item in items}:
            await self._prepare(collection, dict.fromkeys(names))
        async with self._call(f"insert into {collection}"):
            await col.insert_many(docs, ordered=False)

    async def update_many(self, collection: str, items: Sequence[port.Upsert]) -> int:
        col = self._col(collection)
        # Some Mongo-wire servers create the collection on an update that matches nothing.
        if not items or not await self._exists(collection):
            return 0
        now = self._clock.now()
        ops = []
        for item in items:
            update = {"$set": self._update(item, self._set(item, now, live=False))}
            # The key alone (live or not): a filter the key's index covers whole.
            ops.append(pymongo.UpdateOne(mongosearch.filter_of(conditions.key_match(item.key)), update))
        async with self._call(f"update {collection}"):
            result = await col.bulk_write(ops, ordered=True)
        return result.matched_count

    async def _exists(self, collection: str) -> bool:
        """Whether the collection exists (remembered once seen: the port never drops one)."""
        if collection not in self._known:
            async with self._call("list collections"):
                found = await self._db().list_collection_names(filter={"name": collection})
            if not found:
                return False
            self._known.add(collection)
        return True

    async def soft_delete(
        self, collection: str, where: conditions.Condition | None, *, include_deleted: bool = False
    ) -> int:
        col = self._col(collection)
        # Some MongoDB-wire servers create the collection on an update that matches nothing.
        if not await self._exists(collection):
            return 0
        update = {"$set": {port.DELETED: True, port.UPDATE_TIME: self._clock.now()}}
        # With include_deleted, a key condition is one plain update (its index covers the filter).
        staged, pieces = _pieces(where, include_deleted=include_deleted)
        modified = 0
        async with self._call(f"delete from {collection}"):
            for piece in pieces:
                if not staged:
                    modified += (await col.update_many(piece, update)).modified_count
                    continue
                # Found through the index, then flagged by _id.
                found = await (await col.aggregate([*piece, {"$project": {"_id": 1}}])).to_list()
                if found:
                    for by_id in mongosearch.split({"_id": {"$in": [d["_id"] for d in found]}}):
                        modified += (await col.update_many(by_id, update)).modified_count
        return modified

    async def purge(self, collection: str, where: conditions.Condition | None) -> int:
        deleted = 0
        async with self._call(f"purge {collection}"):
            for piece in mongosearch.split(mongosearch.where(where, include_deleted=True)):
                deleted += (await self._col(collection).delete_many(piece)).deleted_count
        return deleted

    # -- reads --------------------------------------------------------------------------------

    async def find(self, collection: str, query: conditions.Query) -> list[dict[str, Any]]:
        col = self._col(collection)
        if query.limit == 0:
            return []
        sort = [(mongosearch.dotted(p), d) for p, d in query.sort] + [("_id", 1)]
        # In pieces (see mongosearch.split) only when nothing but _id orders or bounds the result.
        whole = not query.sort and not query.offset and query.limit is None
        staged, pieces = _pieces(query.where, include_deleted=query.include_deleted, split=whole)
        projection: dict[str, int] = {mongosearch.dotted(p): 1 for p in query.fields}
        if len(pieces) == 1:
            projection["_id"] = 0
        elif projection:
            projection["_id"] = 1  # to put the pieces back in order
        docs: list[dict[str, Any]] = []
        async with self._call(f"find in {collection}"):
            for piece in pieces:
                if not staged:
                    cursor = col.find(piece, projection or None).sort(sort).skip(query.offset)
                    if query.limit is not None:
                        cursor = cursor.limit(query.limit)
                    docs += await cursor.to_list()
                    continue
                pipeline = [*piece, {"$sort": dict(sort)}]
                if query.offset:
                    pipeline.append({"$skip": query.offset})
                if query.limit is not None:
                    pipeline.append({"$limit": query.limit})
                if projection:
                    pipeline.append({"$project": projection})
                docs += await (await col.aggregate(pipeline, allowDiskUse=True)).to_list()
        if len(pieces) > 1:
            docs.sort(key=lambda d: d["_id"])
            for d in docs:
                del d["_id"]
        return [port.decode(d, date_marker=False) for d in docs]

    async def count(
        self, collection: str, where: conditions.Condition | None, *, include_deleted: bool = False
    ) -> int:
        col = self._col(collection)
        staged, pieces = _pieces(where, include_deleted=include_deleted)
        n = 0
        async with self._call(f"count in {collection}"):
            for piece in pieces:
                if not staged:
                    n += await col.count_documents(piece)
                    continue
                found = await (await col.aggregate([*piece, {"$count": "n"}])).to_list()
                n += found[0]["n"] if found else 0
        return n

    async def collections(self) -> list[str]:
        async with self._call("list collections"):
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
        spec = [(mongosearch.dotted(p), d) for p, d in wanted.keys]
        try:
            async with self._call(f"create index {name} on {collection}"):
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
        async with self._call(f"drop index {name} on {collection}"):
            await self._col(collection).drop_index(name)

    async def list_indexes(self, collection: str) -> list[port.IndexInfo]:
        out = []
        try:
            async with self._call(f"list indexes of {collection}"):
                cursor = await self._col(collection).list_indexes()
                raw = await cursor.to_list()
        except pymongo.errors.OperationFailure as e:
            if e.code == _NAMESPACE_NOT_FOUND:
                return []
            raise
        for ix in raw:
            if ix["name"] == "_id_":
                continue
            keys = tuple((mongosearch.undotted(field), int(d)) for field, d in ix["key"].items())
            out.append(port.IndexInfo(ix["name"], keys, bool(ix.get("unique", False))))
        return sorted(out, key=lambda i: i.name)
