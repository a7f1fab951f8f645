"""``StorageService``: dynamic resources written through the outbox, and the queries on them.

Every write goes ``outbox.prepare`` → store write → ``outbox.commit`` (see :mod:`bcs.storage.outbox`),
so a change is published at least once, in order per object, whatever happens to the bus or to this
process. The HTTP API and in-process callers (the data watch) use the same methods; arguments are
already-validated values and store conditions, never raw request parameters.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bcs.storage import outbox
from bcs.storage.service import documents, messages, records, watch
from bcs.storage.store import conditions as c
from bcs.storage.store import port as store_port

if TYPE_CHECKING:
    from bcs.config import BcsSettings, StorageSettings
    from bcs.core.bus import Bus

__all__ = ["StorageService"]

DELETE_CHUNK = 500  # objects named in one soft-delete condition
# What a delete reads of each object first: its key, last data and times (for its message).
_LAST_STATE = [*c.FEATURE_FIELDS, "data", store_port.CREATE_TIME, store_port.UPDATE_TIME]


class StorageService:
    """The storage service of one process (``app[keys.STORAGE]``)."""

    def __init__(
        self,
        store: store_port.Store,
        bus: Bus,
        *,
        settings: StorageSettings,
        exchange: str,
        owner: str | None = None,
        lease: float = outbox.DEFAULT_LEASE,
    ) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.published = frozenset(settings.publish_resources)
        self.outbox = outbox.Outbox(store, bus, exchange=exchange, owner=owner, lease=lease)
        self.watches = watch.WatchHub(bus, exchange=exchange)
        self.events = records.Events(self)
        self.alarms = records.Alarms(self)
        self.custom = records.CustomResources(self)

    @classmethod
    def from_settings(cls, store: store_port.Store, bus: Bus, settings: BcsSettings) -> StorageService:
        return cls(store, bus, settings=settings.storage, exchange=settings.bus.exchange)

    async def close(self) -> None:
        """End the watch streams. (The outbox drainer is stopped by its owner, then closed.)"""
        await self.watches.close()

    async def write(
        self,
        entries: Sequence[outbox.Entry],
        change: Callable[[], Awaitable[Sequence[Mapping[str, Any] | None]]],
    ) -> None:
        """Record ``entries``, run ``change``, then hand the entries to the drainer.

        ``change`` returns, per entry, what watchers are told (:func:`messages.watch_facts`), or None to let
        the drainer look the object up.
        """
        groups = await self.outbox.prepare(entries)
        try:
            facts = await change()
        except BaseException:
            self.outbox.uncertain(groups)  # it may have landed: the drainer checks the store
            raise
        self.outbox.commit(groups, facts)

    # -- dynamic resources ------------------------------------------------------------------------

    def _entry(self, event: str, key: Mapping[str, Any], data: Mapping[str, Any]) -> outbox.Entry:
        headers = {f: key[f] for f in c.FEATURE_FIELDS if f in key}
        headers["event"] = event
        return self.outbox.entry(
            kind=messages.RESOURCE,
            collection=key["resourceType"],
            key=dict(key),
            event=event,
            public=key["resourceType"] in self.published,
            headers=headers,
            body=data,
        )

    def _gone(self, doc: Mapping[str, Any]) -> outbox.Entry:
        return self._entry(messages.DELETE, documents.key_of(doc), doc.get("data") or {})

    async def put_resources(self, resources: Sequence[documents.Resource]) -> int:
        """Upsert ``resources`` (one bulk write per resourceType, in order); return how many."""
        stored, _ = await self.write_resources(resources)
        return stored

    async def put_resource(self, resource: documents.Resource) -> None:
        await self.put_resources([resource])

    async def delete_resources(
        self,
        resource_type: str,
        where: c.Condition | None,
        *,
        begin: datetime.datetime | None = None,
        end: datetime.datetime | None = None,
    ) -> int:
        """Soft-delete the live resources matching ``where`` (and ``begin < updateTime < end``).

        Each deleted object gets a ``delete`` message carrying its last data. Return how many.
        """
        parts = [p for p in (where,) if p is not None]
        if begin is not None or end is not None:
            parts.append(c.Range(store_port.UPDATE_TIME, gt=begin, lt=end))
        _, deleted = await self.write_resources(deletions=[(resource_type, c.And(*parts))])
        return deleted

    async def write_resources(
        self,
        resources: Sequence[documents.Resource] = (),
        deletions: Sequence[tuple[str, c.Condition]] = (),
        *,
        gone: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[int, int]:
        """Upsert ``resources`` and soft-delete live resources as one write: one outbox record for
        all of it (one bulk write per resourceType, then the deletes). What is deleted: what each
        ``(resourceType, condition)`` of ``deletions`` matches, and the resources ``gone`` names by
        their keys (:meth:`documents.Resource.key`). Return how many were stored and deleted."""
        by_type: dict[str, list[documents.Resource]] = {}
        for r in resources:
            by_type.setdefault(r.resource_type, []).append(r)
        entries = [self._entry(messages.UPDATE, r.key(), r.data) for g in by_type.values() for r in g]
        doomed = [(rt, await self._live(rt, cond)) for rt, cond in deletions]
        doomed += [(rt, await self._live_keys(rt, keys)) for rt, keys in _chunks_by_type(gone)]
        doomed = [(rt, docs) for rt, docs in doomed if docs]
        entries += [self._gone(d) for _, docs in doomed for d in docs]
        if not entries:
            return 0, 0
        deleted = 0

        async def change() -> list[Mapping[str, Any] | None]:
            nonlocal deleted
            facts: list[Mapping[str, Any] | None] = []
            for resource_type, group in by_type.items():
                # The store tells each object's times (Add or Change?) without a read-back.
                stamps = await self.store.upsert_many(
                    resource_type, [store_port.Upsert(r.key(), r.data, r.extra) for r in group]
                )
                facts += [messages.watch_facts(t) for t in stamps]
            for resource_type, docs in doomed:
                # What was found (and announced) is deleted: by key, a plain write of the key index
                # (even one deleted meanwhile by another process, which then gets a new updateTime).
                for start in range(0, len(docs), DELETE_CHUNK):
                    named = c.keys_match(documents.key_of(d) for d in docs[start : start + DELETE_CHUNK])
                    deleted += await self.store.soft_delete(resource_type, named, include_deleted=True)
                facts += [messages.watch_facts(d, deleted=True) for d in docs]
            return facts

        await self.write(entries, change)
        return len(resources), deleted

    async def _live(self, resource_type: str, cond: c.Condition) -> list[dict[str, Any]]:
        """The live resources ``cond`` matches, with what their delete messages tell."""
        query = c.Query(cond, fields=_LAST_STATE)
        return await self.store.find(documents.check_resource_type(resource_type), query)

    async def _live_keys(self, resource_type: str, keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The live resources among ``keys``: read deleted ones too and drop them here, so the query
        is on the key index alone (a MongoDB-wire server then runs a plain find, not a pipeline)."""
        query = c.Query(c.keys_match(keys), fields=[*_LAST_STATE, store_port.DELETED], include_deleted=True)
        docs = await self.store.find(documents.check_resource_type(resource_type), query)
        return [d for d in docs if d.get(store_port.DELETED) is not True]

    async def find_resources(self, resource_type: str, query: c.Query) -> list[dict[str, Any]]:
        """The stored documents (times as datetimes; see :func:`documents.render`)."""
        return await self.store.find(documents.check_resource_type(resource_type), query)

    async def page_resources(self, resource_type: str, query: c.Query) -> tuple[list[dict[str, Any]], int]:
        """:meth:`find_resources` and the number of all matches (counted only when the page cannot tell)."""
        return await self.store.find_page(documents.check_resource_type(resource_type), query)

    async def count_resources(self, resource_type: str, where: c.Condition | None) -> int:
        return await self.store.count(documents.check_resource_type(resource_type), where)

    async def purge_cluster(self, cluster_id: str) -> int:
        """Remove for good every document of ``cluster_id`` (resources, events, alarms, custom).

        Nothing is published: this forgets a cluster, it does not report changes in it.
        """
        removed = 0
        for collection in await self.store.collections():
            if collection in (outbox.OUTBOX, outbox.OWNERS):
                continue
            removed += await self.store.purge(collection, c.Eq("clusterId", cluster_id))
        return removed


def _chunks_by_type(keys: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """``keys`` by resourceType, in pieces of at most DELETE_CHUNK."""
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for key in keys:
        by_type.setdefault(key["resourceType"], []).append(key)
    return [
        (resource_type, group[start : start + DELETE_CHUNK])
        for resource_type, group in by_type.items()
        for start in range(0, len(group), DELETE_CHUNK)
    ]
