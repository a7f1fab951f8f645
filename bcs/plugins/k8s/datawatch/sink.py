"""Where the data watch writes: the :class:`Sink` interface and its in-process implementation.

:class:`ServiceSink` calls the storage service of this process (``bcs serve``: no HTTP, bulk writes);
:class:`bcs.plugins.k8s.datawatch.httpsink.HttpSink` speaks the storage HTTP API (``bcs agent watch``
running inside a cluster). Both raise a :class:`bcs.errors.BcsError` for a failure worth retrying;
an object the storage refuses as malformed (400) is logged and skipped, since retrying cannot help.
"""

from __future__ import annotations

import abc
import datetime
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from bcs import errors
from bcs.plugins.k8s.datawatch import convert
from bcs.storage.service import documents
from bcs.storage.store import conditions as c

if TYPE_CHECKING:
    from bcs.storage.service.core import StorageService

__all__ = [
    "Delete",
    "Put",
    "ServiceSink",
    "Sink",
    "StoredEvents",
    "StoredKeys",
    "parse_stored_events",
    "parse_stored_keys",
]

logger = logging.getLogger(__name__)

RV = "data.metadata.resourceVersion"

StoredKeys = dict[str, str]  # informer key (ns/name or name) -> stored resourceVersion
StoredEvents = set[tuple[str, str]]  # (informer key, resourceVersion) of stored events


@attrs.frozen
class Put:
    """Store ``data`` as ``resource_type`` ``namespace/name`` (namespace ``""``: cluster-scoped)."""

    resource_type: str
    namespace: str
    name: str
    data: Mapping[str, Any]


@attrs.frozen
class Delete:
    resource_type: str
    namespace: str
    name: str


class Sink(abc.ABC):
    """The storage, as the data watch of one or more clusters sees it."""

    @abc.abstractmethod
    async def put(self, cluster_id: str, items: Sequence[Put]) -> None:
        """Upsert every item (one object appears at most once)."""

    @abc.abstractmethod
    async def delete(self, cluster_id: str, items: Sequence[Delete]) -> None:
        """Delete every item that is stored (absent ones are no error)."""

    async def write(self, cluster_id: str, puts: Sequence[Put], deletes: Sequence[Delete]) -> None:
        """:meth:`put` and :meth:`delete` (of other objects) as one call; sinks that can make it one
        write do so."""
        if puts:
            await self.put(cluster_id, puts)
        if deletes:
            await self.delete(cluster_id, deletes)

    @abc.abstractmethod
    async def put_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Store events in the storage event shape (:func:`convert.event_record`)."""

    @abc.abstractmethod
    async def stored(self, cluster_id: str, resource_type: str) -> StoredKeys:
        """The live stored objects of one kind of a cluster, with their resourceVersions."""

    @abc.abstractmethod
    async def stored_events(self, cluster_id: str, since: float) -> StoredEvents:
        """The stored events of a cluster whose event time is at or after ``since`` (unix seconds)."""

    async def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


def parse_stored_keys(docs: Iterable[Mapping[str, Any]]) -> StoredKeys:
    out = {}
    for doc in docs:
        rv = ((doc.get("data") or {}).get("metadata") or {}).get("resourceVersion")
        out[convert.join_key(doc.get("namespace") or "", str(doc.get("resourceName")))] = str(rv or "")
    return out


def parse_stored_events(docs: Iterable[Mapping[str, Any]]) -> StoredEvents:
    out = set()
    for doc in docs:
        meta = (doc.get("data") or {}).get("metadata") or {}
        key = convert.join_key(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        out.add((key, str(meta.get("resourceVersion") or "")))
    return out


class ServiceSink(Sink):
    """Writes through the :class:`~bcs.storage.service.core.StorageService` of this process."""

    def __init__(self, service: StorageService) -> None:
        self.service = service

    async def put(self, cluster_id: str, items: Sequence[Put]) -> None:
        await self.write(cluster_id, items, ())

    async def delete(self, cluster_id: str, items: Sequence[Delete]) -> None:
        await self.write(cluster_id, (), items)

    async def write(self, cluster_id: str, puts: Sequence[Put], deletes: Sequence[Delete]) -> None:
        """One storage write (one outbox record) for all of it."""
        resources = []
        for item in puts:
            try:
                resources.append(
                    documents.Resource(
                        cluster_id=cluster_id,
                        resource_type=item.resource_type,
                        name=item.name,
                        namespace=item.namespace or None,
                        data=item.data,
                    )
                )
            except errors.BadRequest as e:
                logger.error("cluster %s: %s %s not stored: %s", cluster_id, item.resource_type, item.name, e)
        if resources or deletes:
            await self.service.write_resources(resources, gone=[_key(cluster_id, d) for d in deletes])

    async def put_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        records = []
        for event in events:
            try:
                records.append(self.service.events.record(event))
            except errors.BadRequest as e:
                logger.error("cluster %s: event not stored: %s", event.get("clusterId"), e)
        await self.service.events.put_many(records)

    async def stored(self, cluster_id: str, resource_type: str) -> StoredKeys:
        query = c.Query(c.Eq("clusterId", cluster_id), fields=["namespace", "resourceName", RV])
        return parse_stored_keys(await self.service.find_resources(resource_type, query))

    async def stored_events(self, cluster_id: str, since: float) -> StoredEvents:
        when = datetime.datetime.fromtimestamp(since, datetime.UTC)
        where = c.And(c.Eq("clusterId", cluster_id), c.Range("eventTime", gte=when))
        fields = ["data.metadata.namespace", "data.metadata.name", RV]
        return parse_stored_events(await self.service.events.find(c.Query(where, fields=fields)))


def _key(cluster_id: str, item: Delete) -> dict[str, str]:
    key = {"clusterId": cluster_id, "resourceType": item.resource_type, "resourceName": item.name}
    if item.namespace:
        key["namespace"] = item.namespace
    return key
