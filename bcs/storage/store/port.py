"""The Store port's abstract class and value types; :func:`open_store` picks the adapter from settings.

A store holds named collections (one per ``resourceType``, shared by all clusters) of documents in the
upstream bk-bcs shape::

    {"clusterId", "namespace"?, "resourceType", "resourceName", "data": {...},
     "createTime", "updateTime", "_isBcsObjectDeleted", ...extra top-level fields}

Times are aware UTC datetimes with millisecond precision. Any JSON object round-trips, including keys
with ``$`` or ``.`` (both adapters escape keys with :func:`escape_key` on the way in).

What both adapters do identically (the contract suite in ``tests/storage`` is the judge): the
semantics of :mod:`bcs.storage.store.conditions` (Mongo's), projection, sort and paging. Not part of
the contract: paths that step *through* arrays (``a.b`` with ``a`` a list; numeric keys as array
indexes), :class:`~bcs.storage.store.conditions.Range` on array fields, sorting on array fields.

The helpers below the ABC (key escaping, the clock, projection) are shared by the adapters.
"""

from __future__ import annotations

import abc
import datetime
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from bcs import errors
from bcs.core import ports
from bcs.storage.store import conditions

if TYPE_CHECKING:
    from bcs.config import StoreSettings

__all__ = [
    "CREATE_TIME",
    "DELETED",
    "DELETED_INDEX",
    "IndexInfo",
    "Store",
    "UPDATE_TIME",
    "Upsert",
    "open_store",
    # for adapters
    "Clock",
    "EPOCH",
    "check_collection",
    "decode",
    "encode",
    "escape_key",
    "feature_index",
    "index_keys",
    "project",
    "set_fields",
    "times",
    "updated_fields",
    "written_fields",
    "to_millis",
    "unescape_key",
]

DELETED = "_isBcsObjectDeleted"
CREATE_TIME = "createTime"
UPDATE_TIME = "updateTime"
DELETED_INDEX = "bcs_object_deletion_flag_idx"
RESERVED = frozenset({"_id", "data", CREATE_TIME, UPDATE_TIME, DELETED, *conditions.FEATURE_FIELDS})
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@attrs.frozen
class IndexInfo:
    """One index of a collection (Mongo's implicit ``_id_`` is never listed)."""

    name: str
    keys: tuple[tuple[conditions.Path, int], ...]
    unique: bool = False


def _mapping(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f"{attr.name} must be a mapping, not {type(value).__name__}")


@attrs.frozen
class Upsert:
    """One item of :meth:`Store.upsert_many`; the arguments of :meth:`Store.upsert`."""

    key: Mapping[str, Any] = attrs.field(validator=_mapping)
    data: Mapping[str, Any] | None = attrs.field(validator=_mapping)
    extra: Mapping[str, Any] = attrs.field(factory=dict, validator=_mapping)


class Store(ports.Port):
    """What bcs needs from MongoDB. Every method may raise :class:`bcs.errors.PortUnavailable`.

    ``where`` arguments are a condition, or None for every document. Reads and :meth:`soft_delete`
    never see soft-deleted documents unless told; :meth:`purge` sees everything it matches.
    Reading a collection that does not exist gives nothing, never an error.
    """

    name: str = "store"

    @abc.abstractmethod
    async def upsert(
        self,
        collection: str,
        key: Mapping[str, Any],
        data: Mapping[str, Any] | None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write one resource and return the stored document.

        ``key`` holds the feature fields (``clusterId``, ``namespace`` unless cluster-scoped,
        ``resourceType``, ``resourceName``) or, for custom collections, other top-level scalar
        fields; the document is found with :func:`conditions.key_match`. ``data`` replaces the
        ``data`` field (None: write no ``data`` field); ``extra`` top-level fields are merged in
        (reserved names are a BadRequest). ``updateTime`` is set to now and the deletion flag
        cleared; ``createTime`` is set when no live document had the key (new, or revived after a
        soft delete). The first write to a collection creates the unique ``<collection>_idx`` on
        the feature fields and ``bcs_object_deletion_flag_idx``. A unique index violation is a
        Conflict.
        """

    @abc.abstractmethod
    async def upsert_many(self, collection: str, items: Sequence[Upsert]) -> list[dict[str, Any]]:
        """:meth:`upsert` each item in order, in one bulk write where the service allows.

        Return, per item, the stored document's times: ``{"createTime": ..., "updateTime": ...}``
        (what :func:`bcs.storage.service.messages.watch_facts` needs). Items share one ``updateTime``.
        """

    @abc.abstractmethod
    async def insert_many(self, collection: str, items: Sequence[Upsert]) -> None:
        """Write each item as a new document (as :meth:`upsert` writes one), without looking for an
        existing one: for keys the caller knows are new. Cheaper than an upsert on every service;
        a key that has a document already is a Conflict when a unique index covers it (and a
        second document otherwise). Items share one ``createTime``/``updateTime``."""

    @abc.abstractmethod
    async def update_many(self, collection: str, items: Sequence[Upsert]) -> int:
        """Set each item's ``data`` (unless None) and ``extra`` fields, and ``updateTime``, on the
        document its key names; return how many items named one. Never creates a document (an
        item whose key names none is skipped), never revives a soft-deleted one (it is updated and
        stays deleted): for state kept beside documents that may be purged meanwhile."""

    @abc.abstractmethod
    async def soft_delete(
        self, collection: str, where: conditions.Condition | None, *, include_deleted: bool = False
    ) -> int:
        """Set the deletion flag (and ``updateTime``) on matching live documents; return how many.
        With ``include_deleted``, on every match (deleted ones get a new ``updateTime``): for a
        caller that just found the documents it names live, a lookup the store can skip."""

    async def delete_window(
        self,
        collection: str,
        where: conditions.Condition | None,
        *,
        begin: datetime.datetime | None,
        end: datetime.datetime | None,
    ) -> int:
        """Soft-delete matching live documents with ``begin < updateTime < end`` (None: unbounded)."""
        bounded = begin is not None or end is not None
        window = conditions.Range((UPDATE_TIME,), gt=begin, lt=end) if bounded else None
        parts = [c for c in (where, window) if c is not None]
        return await self.soft_delete(collection, conditions.And(*parts) if parts else None)

    @abc.abstractmethod
    async def purge(self, collection: str, where: conditions.Condition | None) -> int:
        """Remove matching documents for good, soft-deleted or not; return how many."""

    @abc.abstractmethod
    async def find(self, collection: str, query: conditions.Query) -> list[dict[str, Any]]:
        """The matching documents (never Mongo's ``_id``), projected, sorted and paged."""

    @abc.abstractmethod
    async def count(
        self, collection: str, where: conditions.Condition | None, *, include_deleted: bool = False
    ) -> int:
        """How many documents match."""

    async def find_page(self, collection: str, query: conditions.Query) -> tuple[list[dict[str, Any]], int]:
        """:meth:`find`, and how many documents match in all (offset and limit aside).

        The count runs only when the page cannot tell it: a page shorter than its limit that is not
        past the end ends the matches."""
        docs = await self.find(collection, query)
        short = query.limit is None or len(docs) < query.limit
        if query.limit != 0 and short and (docs or not query.offset):
            return docs, query.offset + len(docs)
        return docs, await self.count(collection, query.where, include_deleted=query.include_deleted)

    @abc.abstractmethod
    async def collections(self) -> list[str]:
        """The names of every collection, sorted."""

    @abc.abstractmethod
    async def ensure_index(
        self,
        collection: str,
        name: str,
        keys: Sequence[tuple[str | Sequence[str], int]],
        *,
        unique: bool = False,
    ) -> None:
        """Create the index unless the same one exists (creating the collection if needed).

        Conflict when another index has that name, or when ``unique`` and documents collide.
        As in Mongo, a missing field counts as null for uniqueness.
        """

    @abc.abstractmethod
    async def drop_index(self, collection: str, name: str) -> None:
        """Remove one index; NotFound when the collection has no index of that name."""

    @abc.abstractmethod
    async def list_indexes(self, collection: str) -> list[IndexInfo]:
        """The collection's indexes sorted by name (empty for a missing collection)."""


def open_store(settings: StoreSettings, *, data_dir: pathlib.Path) -> Store:
    """The adapter the settings name (not started)."""
    if settings.backend == "mongo":
        from bcs.storage.store import mongo

        return mongo.MongoStore(settings)
    from bcs.storage.store import sqlite

    return sqlite.SqliteStore(data_dir / "store.sqlite3", settings)


# -- helpers for the adapters ---------------------------------------------------------------------


def check_collection(name: str) -> str:
    """Collection names follow Mongo's rules, so a name valid on one adapter is valid on both."""
    if not isinstance(name, str) or not name or "$" in name or "\0" in name or name.startswith("system."):
        raise errors.BadRequest(f"invalid collection name {name!r}")
    return name


class Clock:
    """Millisecond UTC time that never repeats nor goes back within one store object."""

    def __init__(self) -> None:
        self._last = EPOCH

    def now(self) -> datetime.datetime:
        now = to_millis(datetime.datetime.now(datetime.UTC))
        if now <= self._last:  # two writes in one millisecond: keep updateTime strictly increasing
            now = self._last + datetime.timedelta(milliseconds=1)
        self._last = now
        return now


def to_millis(value: datetime.datetime) -> datetime.datetime:
    """UTC, truncated to the millisecond as BSON stores it (naive values are taken as UTC)."""
    value = value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value.astimezone(datetime.UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# Keys are escaped as ESC + two characters. `$` and `.` are what Mongo refuses or misreads; `"`, `\`
# and control characters are what SQLite's JSON paths cannot address; ESC itself keeps it reversible.
_ESC = "\uff05"
_SPECIAL = re.compile('[\x00-\x1f$."\\\\\uff05]')
_ESCAPED = re.compile("\uff05(..)", re.DOTALL)


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return _ESC + ("~~" if char == _ESC else f"{ord(char):02x}")


def _unescape_char(match: re.Match[str]) -> str:
    code = match.group(1)
    if code == "~~":
        return _ESC
    try:
        return chr(int(code, 16))
    except ValueError:  # not written by escape_key: leave it alone
        return match.group(0)


def escape_key(key: str) -> str:
    """A key safe as a Mongo field name and a SQLite JSON path label; :func:`unescape_key` reverses it."""
    if not key:
        return _ESC + "--"
    return _SPECIAL.sub(_escape_char, key) if _SPECIAL.search(key) else key


def unescape_key(key: str) -> str:
    if _ESC not in key:
        return key
    if key == _ESC + "--":
        return ""
    return _ESCAPED.sub(_unescape_char, key)


_SCALARS = (str, int, float, bool, type(None))
_ESCAPED_KEYS: dict[str, str] = {}  # key -> escaped key; keys repeat across documents
_KEY_CACHE = 4096


def _escaped(key: object) -> str:
    found = _ESCAPED_KEYS.get(key)  # type: ignore[call-overload]
    if found is not None:
        return found
    if not isinstance(key, str):
        raise TypeError(f"document keys must be strings, not {key!r}")
    if len(_ESCAPED_KEYS) >= _KEY_CACHE:
        _ESCAPED_KEYS.clear()
    _ESCAPED_KEYS[key] = escaped = escape_key(key)
    return escaped


def encode(value: Any, *, date_marker: bool) -> Any:
    """A value ready to store: keys escaped, tuples as lists, datetimes in UTC milliseconds
    (as ``{"$date": ms}`` when ``date_marker``, for JSON). TypeError for anything not JSON-like."""
    kind = type(value)
    if kind in _SCALARS:  # the common case first: exact types, no isinstance chain
        return value
    # Scalars inline: most values of a document are, and a call per value is most of the cost.
    if kind is dict or isinstance(value, Mapping):
        return {
            _escaped(k): v if type(v) in _SCALARS else encode(v, date_marker=date_marker)
            for k, v in value.items()
        }
    if kind is list or isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else encode(v, date_marker=date_marker) for v in value]
    if isinstance(value, datetime.datetime):
        value = to_millis(value)
        return {"$date": (value - EPOCH) // datetime.timedelta(milliseconds=1)} if date_marker else value
    if isinstance(value, str | int | float | bool):  # subclasses (enums, ...)
        return value
    raise TypeError(f"cannot store a value of type {type(value).__name__}: {value!r}")


def decode(value: Any, *, date_marker: bool) -> Any:
    """The stored value as the caller wrote it (datetimes as aware UTC)."""
    kind = type(value)
    if kind is dict:
        if date_marker and len(value) == 1 and "$date" in value:
            return EPOCH + datetime.timedelta(milliseconds=value["$date"])
        return {
            (unescape_key(k) if _ESC in k else k): decode(v, date_marker=date_marker)
            for k, v in value.items()
        }
    if kind is list:
        return [decode(v, date_marker=date_marker) for v in value]
    if kind is datetime.datetime:
        return value.astimezone(datetime.UTC)
    return value


def set_fields(
    key: Mapping[str, Any], data: Mapping[str, Any] | None, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The top-level fields every upsert writes (before times and flag), validated, not encoded."""
    if not key:
        raise errors.BadRequest("an upsert needs a key")
    fields: dict[str, Any] = {}
    for name, value in key.items():
        if not isinstance(name, str) or not name or name.startswith("$") or "." in name:
            raise errors.BadRequest(f"invalid key field {name!r}")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise errors.BadRequest(f"key field {name!r} must be a string or number, not {value!r}")
        fields[name] = value
    for name, value in (extra or {}).items():
        if name in RESERVED or name in fields:
            raise errors.BadRequest(f"extra field {name!r} is reserved")
        fields[name] = value
    if data is not None:
        fields["data"] = data
    return fields


def written_fields(item: Upsert, now: Any, *, live: bool, date_marker: bool) -> dict[str, Any]:
    """The top-level fields a write of ``item`` sets at ``now``, encoded (``live``: with the
    deletion flag cleared, as an upsert does; an update leaves it)."""
    fields = set_fields(item.key, item.data, item.extra)
    fields[UPDATE_TIME] = now
    if live:
        fields[DELETED] = False
    return encode(fields, date_marker=date_marker)


def updated_fields(item: Upsert, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What updating the existing document ``item`` names sets: ``fields`` without the key's, which
    stay as stored (equal, or an array holding the value, as Mongo's ``$set`` leaves them)."""
    return {k: v for k, v in fields.items() if k not in item.key}


def times(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The ``createTime`` and ``updateTime`` of a stored document (what upsert_many returns)."""
    return {k: doc[k] for k in (CREATE_TIME, UPDATE_TIME) if k in doc}


def feature_index(collection: str, key: Mapping[str, Any]) -> tuple[str, list[conditions.Path]] | None:
    """The unique index the first write creates: ``<collection>_idx`` on all four feature fields
    (``namespace`` too, so cluster- and namespace-scoped keys share one shape); None for custom keys."""
    if not set(key) <= set(conditions.FEATURE_FIELDS):
        return None
    return f"{collection}_idx", [(f,) for f in conditions.FEATURE_FIELDS]


_OMIT = object()


def project(doc: Mapping[str, Any], paths: Sequence[conditions.Path]) -> dict[str, Any]:
    """Mongo's inclusion projection, in Python: the kept paths as nested dicts; arrays on the way
    keep their object (and array) elements, each projected; scalars on the way drop the field."""
    if not paths:
        return dict(doc)
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = None  # None: keep the whole value
    return _project_object(doc, tree)


def _project_object(doc: Mapping[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, sub in tree.items():
        if k in doc:
            value = doc[k] if sub is None else _project_value(doc[k], sub)
            if value is not _OMIT:
                out[k] = value
    return out


def _project_value(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, Mapping):
        return _project_object(value, tree)
    if isinstance(value, list):
        return [v for v in (_project_value(e, tree) for e in value) if v is not _OMIT]
    return _OMIT


def index_keys(name: str, keys: Sequence[tuple[str | Sequence[str], int]]) -> tuple[Any, ...]:
    """Validated index keys (shared rules: a name, at least one key, directions 1 or -1)."""
    if not isinstance(name, str) or not name or name == "_id_":
        raise errors.BadRequest(f"invalid index name {name!r}")
    if not keys:
        raise errors.BadRequest(f"index {name!r} needs at least one key")
    out = []
    for path, direction in keys:
        if direction not in (1, -1) or isinstance(direction, bool):
            raise errors.BadRequest(f"index {name!r}: direction must be 1 or -1, not {direction!r}")
        try:
            out.append((conditions.to_path(path), direction))
        except ValueError as e:
            raise errors.BadRequest(f"index {name!r}: {e}") from None
    return tuple(out)
