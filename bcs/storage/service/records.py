"""Events, alarms and custom resources: the storage service's other collections.

Events (``PUT /events``) are keyed per cluster by ``data.metadata.name/resourceVersion`` (upstream's
unique index; a repeated event overwrites itself instead of failing), else by ``id``; they are
published as resourceType ``Event`` (when configured) and feed ``/events/watch``; a periodic pass
keeps ``event_max_days`` and ``event_max_count`` per cluster. Alarms are
append-only and not published. Custom resources are schemaless documents stored as given, upserted
on the fields of the collection's unique index.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from bcs import errors
from bcs.storage.service import documents, messages
from bcs.storage.store import conditions as c
from bcs.storage.store import port as store_port

if TYPE_CHECKING:
    from bcs.storage.outbox import Entry
    from bcs.storage.service.core import StorageService


__all__ = ["Alarms", "CustomResources", "EventRecord", "Events", "unix_time"]

logger = logging.getLogger(__name__)

EVENT_TYPE = "Event"
EVENT_KEY_INDEX = "event_key_idx"
RETENTION_INTERVAL = 600.0  # seconds between event retention passes
RETENTION_FIRST = 60.0  # seconds before the first pass
_INTERNAL = (store_port.DELETED, store_port.CREATE_TIME, store_port.UPDATE_TIME)
_EVENT_HIDDEN = ("eventKey", *_INTERNAL)  # what readers of each collection do not see
_ALARM_HIDDEN = ("alarmId", *_INTERNAL)
_CUSTOM_HIDDEN = (store_port.DELETED,)


def _rendered(docs: list[dict[str, Any]], hidden: tuple[str, ...]) -> list[dict[str, Any]]:
    return [documents.render(d, drop=hidden) for d in docs]


def unix_time(value: object, what: str) -> datetime.datetime:
    """Unix seconds as an aware UTC datetime (BadRequest naming ``what`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.BadRequest(f"{what} must be unix seconds, not {value!r}")
    try:
        return store_port.to_millis(datetime.datetime.fromtimestamp(value, datetime.UTC))
    except (OverflowError, OSError, ValueError):
        raise errors.BadRequest(f"{what} is out of range: {value!r}") from None


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise errors.BadRequest(f"{what} must be a JSON object, not {type(value).__name__}")
    return dict(value)


def _cluster(body: Mapping[str, Any]) -> str:
    cluster = body.get("clusterId")
    if not isinstance(cluster, str) or not cluster:
        raise errors.BadRequest("clusterId must be a non-empty string")
    return cluster


@attrs.frozen
class EventRecord:
    """One validated event, ready to write (see :meth:`Events.record`)."""

    key: Mapping[str, Any]
    data: Mapping[str, Any] | None
    fields: Mapping[str, Any]
    entry: Entry


class Events:
    """The events collection (upstream db ``event``)."""

    def __init__(self, service: StorageService) -> None:
        self.service = service
        self._indexed = False

    def record(self, event: Mapping[str, Any]) -> EventRecord:
        """Validate one event (the upstream ``BcsStorageEventIf`` shape): BadRequest, or the record."""
        event = _object(event, "the event")
        cluster = _cluster(event)
        data = event.get("data")
        if data is not None:
            data = _object(data, "data")
        when = unix_time(event["eventTime"], "eventTime") if "eventTime" in event else None
        if "extraInfo" in event:
            _object(event["extraInfo"], "extraInfo")
        fields = {k: v for k, v in event.items() if k not in ("clusterId", "data")}
        fields["eventTime"] = when or store_port.to_millis(datetime.datetime.now(datetime.UTC))
        key = {"clusterId": cluster, "eventKey": _event_key(event)}
        store_port.set_fields(key, data, fields)  # reserved names are a BadRequest, before writing
        body = documents.render({"clusterId": cluster, **fields, "data": data})
        entry = self.service.outbox.entry(
            kind=messages.EVENT,
            collection=documents.EVENTS,
            key=key,
            event=messages.UPDATE,
            public=EVENT_TYPE in self.service.published,
            headers=_event_headers(cluster, event, key["eventKey"]),
            body=body,
        )
        return EventRecord(key, data, fields, entry)

    async def put(self, event: Mapping[str, Any]) -> None:
        """Store one event and publish it."""
        await self.put_many([self.record(event)])

    async def put_many(self, records: Sequence[EventRecord]) -> None:
        """Store events (one bulk write, in order) and publish them."""
        if not records:
            return
        store = self.service.store
        if not self._indexed:  # what each write looks its event up by
            with contextlib.suppress(errors.Conflict):  # an equal index under another name
                await store.ensure_index(
                    documents.EVENTS, EVENT_KEY_INDEX, [("clusterId", 1), ("eventKey", 1)]
                )
            self._indexed = True

        async def change() -> list[dict[str, Any]]:
            items = [store_port.Upsert(r.key, r.data, r.fields) for r in records]
            return [messages.watch_facts(t) for t in await store.upsert_many(documents.EVENTS, items)]

        await self.service.write([r.entry for r in records], change)

    async def find(self, query: c.Query) -> list[dict[str, Any]]:
        docs = await self.service.store.find(documents.EVENTS, query)
        return _rendered(docs, _EVENT_HIDDEN)

    async def page(self, query: c.Query) -> tuple[list[dict[str, Any]], int]:
        """:meth:`find` and the number of all matches."""
        docs, total = await self.service.store.find_page(documents.EVENTS, query)
        return _rendered(docs, _EVENT_HIDDEN), total

    async def count(self, where: c.Condition | None) -> int:
        return await self.service.store.count(documents.EVENTS, where)

    async def enforce_retention(self, *, now: datetime.datetime | None = None) -> int:
        """Remove events older than ``event_max_days``, then all but each cluster's newest
        ``event_max_count`` (0 disables either rule); return how many went."""
        store, settings = self.service.store, self.service.settings
        now = now or datetime.datetime.now(datetime.UTC)
        removed = 0
        if settings.event_max_days > 0:
            cutoff = now - datetime.timedelta(days=settings.event_max_days)
            removed += await store.purge(documents.EVENTS, c.Range("eventTime", lt=cutoff))
        if settings.event_max_count > 0:
            for cluster in await self._clusters():
                mine = c.Eq("clusterId", cluster)
                if await store.count(documents.EVENTS, mine) <= settings.event_max_count:
                    continue
                newest_first = c.Query(
                    mine,
                    fields=["eventTime"],
                    sort=[("eventTime", -1)],
                    offset=settings.event_max_count,
                    limit=1,
                )
                for edge in await store.find(documents.EVENTS, newest_first):
                    older = c.And(mine, c.Range("eventTime", lte=edge["eventTime"]))
                    removed += await store.purge(documents.EVENTS, older)
        return removed

    async def _clusters(self) -> list[str]:
        """The clusters that have events (one query per cluster: the Store port has no distinct)."""
        seen: list[str] = []
        while found := await self.service.store.find(
            documents.EVENTS, c.Query(c.NotIn("clusterId", seen), fields=["clusterId"], limit=1)
        ):
            seen.append(found[0]["clusterId"])
        return seen

    async def run_retention(self, *, interval: float = RETENTION_INTERVAL) -> None:
        """Enforce the retention every ``interval`` seconds until cancelled (a guarded task); the
        first pass waits a minute, so a starting process serves and syncs first."""
        await asyncio.sleep(RETENTION_FIRST)
        while True:
            try:
                removed = await self.enforce_retention()
            except errors.PortUnavailable as e:
                logger.warning("event retention postponed: %s", e.message)
            else:
                if removed:
                    logger.info("event retention removed %d event(s)", removed)
            await asyncio.sleep(interval)  # a period, not a synchronisation


def _event_key(event: Mapping[str, Any]) -> str:
    meta = event.get("data", {}).get("metadata") if isinstance(event.get("data"), Mapping) else None
    if isinstance(meta, Mapping) and isinstance(meta.get("name"), str) and meta.get("resourceVersion"):
        return f"{meta['name']}/{meta['resourceVersion']}"
    if isinstance(event.get("id"), str) and event["id"]:
        return event["id"]
    return uuid.uuid4().hex


def _event_headers(cluster: str, event: Mapping[str, Any], event_key: str) -> dict[str, str]:
    headers = {"clusterId": cluster}
    extra_info = event.get("extraInfo") or {}
    if isinstance(extra_info.get("namespace"), str) and extra_info["namespace"]:
        headers["namespace"] = extra_info["namespace"]
    meta = (event.get("data") or {}).get("metadata") or {}
    name = meta.get("name") if isinstance(meta, Mapping) else None
    headers["resourceType"] = EVENT_TYPE
    headers["resourceName"] = name if isinstance(name, str) and name else str(event.get("id") or event_key)
    headers["event"] = messages.UPDATE
    return headers


class Alarms:
    """The alarms collection (append-only)."""

    def __init__(self, service: StorageService) -> None:
        self.service = service

    async def put(self, alarm: Mapping[str, Any]) -> None:
        alarm = _object(alarm, "the alarm")
        key = {"clusterId": _cluster(alarm), "alarmId": uuid.uuid4().hex}
        if alarm.get("namespace") not in (None, ""):
            if not isinstance(alarm["namespace"], str):
                raise errors.BadRequest("namespace must be a string")
            key["namespace"] = alarm["namespace"]
        data = alarm.get("data")
        if data is not None:
            data = _object(data, "data")
        fields = {k: v for k, v in alarm.items() if k not in ("clusterId", "namespace", "data")}
        if "receivedTime" in alarm:
            fields["receivedTime"] = unix_time(alarm["receivedTime"], "receivedTime")
        else:
            fields["receivedTime"] = store_port.to_millis(datetime.datetime.now(datetime.UTC))
        await self.service.store.upsert(documents.ALARMS, key, data, extra=fields)

    async def find(self, query: c.Query) -> list[dict[str, Any]]:
        docs = await self.service.store.find(documents.ALARMS, query)
        return _rendered(docs, _ALARM_HIDDEN)

    async def page(self, query: c.Query) -> tuple[list[dict[str, Any]], int]:
        """:meth:`find` and the number of all matches."""
        docs, total = await self.service.store.find_page(documents.ALARMS, query)
        return _rendered(docs, _ALARM_HIDDEN), total

    async def count(self, where: c.Condition | None) -> int:
        return await self.service.store.count(documents.ALARMS, where)


class CustomResources:
    """Schemaless collections ``_bcs_custom.<type>`` (not published, not watched)."""

    def __init__(self, service: StorageService) -> None:
        self.service = service

    async def _unique_fields(self, collection: str) -> list[str] | None:
        """The fields of the first user-made unique index (by name), or None."""
        auto = (f"{collection}_idx", store_port.DELETED_INDEX)
        for info in await self.service.store.list_indexes(collection):
            if info.unique and info.name not in auto:
                paths = [p for p, _ in info.keys]
                if any(len(p) != 1 for p in paths):
                    raise errors.BadRequest(
                        f"the unique index {info.name!r} must be on top-level fields to upsert by it"
                    )
                return [p[0] for p in paths]
        return None

    async def put(self, resource_type: str, doc: Mapping[str, Any]) -> None:
        """Upsert ``doc`` on the unique index's fields (none: on all its top-level scalars)."""
        collection = documents.custom_collection(resource_type)
        doc = _object(doc, "data")
        fields = await self._unique_fields(collection)
        if fields is None:
            fields = [k for k, v in doc.items() if _scalar(v) and k != "data"]
        missing = [f for f in fields if not _scalar(doc.get(f))]
        if missing or not fields:
            raise errors.BadRequest(f"data needs string or number fields {missing or '(any)'} to upsert by")
        # Feature fields are key fields in the store; they only ever match themselves anyway.
        names = set(fields) | {f for f in c.FEATURE_FIELDS if f in doc}
        key = {f: doc[f] for f in names}
        data = doc.get("data")
        if data is not None:
            data = _object(data, "data.data")
        extra = {k: v for k, v in doc.items() if k not in names and k != "data"}
        store_port.set_fields(key, data, extra)
        await self.service.store.upsert(collection, key, data, extra=extra)

    async def find(self, resource_type: str, query: c.Query) -> list[dict[str, Any]]:
        docs = await self.service.store.find(documents.custom_collection(resource_type), query)
        return _rendered(docs, _CUSTOM_HIDDEN)

    async def page(self, resource_type: str, query: c.Query) -> tuple[list[dict[str, Any]], int]:
        """:meth:`find` and the number of all matches."""
        docs, total = await self.service.store.find_page(documents.custom_collection(resource_type), query)
        return _rendered(docs, _CUSTOM_HIDDEN), total

    async def count(self, resource_type: str, where: c.Condition | None) -> int:
        return await self.service.store.count(documents.custom_collection(resource_type), where)

    async def delete(self, resource_type: str, where: c.Condition | None) -> int:
        return await self.service.store.soft_delete(documents.custom_collection(resource_type), where)

    async def ensure_index(
        self, resource_type: str, name: str, keys: Sequence[tuple[str | Sequence[str], int]], *, unique: bool
    ) -> None:
        collection = documents.custom_collection(resource_type)
        await self.service.store.ensure_index(collection, name, keys, unique=unique)

    async def drop_index(self, resource_type: str, name: str) -> None:
        await self.service.store.drop_index(documents.custom_collection(resource_type), name)


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)
