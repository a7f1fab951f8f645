"""The messages a change becomes: the public one (the upstream contract) and the watch one.

Public: exchange ``bcs-storage`` (configurable), routing key = resourceType, headers ``clusterId``,
``namespace`` (if any), ``resourceType``, ``resourceName``, ``event`` (``update`` | ``delete``), body =
JSON of the object's ``data``, persistent; only for the configured ``publish_resources``.

Watch: every change, on the internal exchange ``<exchange>.watch`` (so consumers of the public
exchange never see these), routing key ``d.<clusterId>.<resourceType>`` (``e.<clusterId>`` for
events), headers ``clusterId``, ``resourceType``, ``kind``, ``events`` (how many), not persistent
(watchers are live). The changes of one published batch that share a routing key travel in one
message (half the messages of one per change): its body is a JSON list, in order, of
``{"id", "type", "value"}`` where ``value`` is the document as a watch stream sends it (times
rendered) and ``id`` the outbox entry's id with ``/watch`` appended, stable across retries so
receivers deduplicate each change (a retried batch may be grouped differently).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from bcs.core import bus as bus_port
from bcs.storage.service import documents
from bcs.storage.store import port as store_port

if TYPE_CHECKING:
    from bcs.storage.outbox import Entry

__all__ = [
    "DELETE",
    "EVENT",
    "RESOURCE",
    "UPDATE",
    "WatchType",
    "public_message",
    "watch_exchange",
    "watch_facts",
    "watch_item",
    "watch_messages",
    "watch_routing_key",
]

RESOURCE, EVENT = "d", "e"  # what changed: a dynamic resource, an event
UPDATE, DELETE = "update", "delete"  # the public `event` header
WATCH_SUFFIX = ".watch"


class WatchType:
    """Upstream watch event types (``{"type": ...}`` in a watch stream)."""

    NOP, ADD, DELETE, CHANGE, SELF_CHANGE, BREAK = 0, 1, 2, 3, 4, -1


def watch_exchange(exchange: str) -> str:
    """The internal exchange that carries every change to watch streams (never the public one)."""
    return exchange + WATCH_SUFFIX


def _word(value: str) -> str:
    # A routing-key word: dots would split it and * or # would be wildcards in bindings; the exact
    # values travel in the headers, which subscribers filter on.
    return value.replace(".", "_").replace("*", "_").replace("#", "_") or "_"


def watch_routing_key(kind: str, cluster_id: str | None, resource_type: str | None = None) -> str:
    """``d.<cluster>.<type>`` or ``e.<cluster>``; a None part is a ``*`` (for bindings)."""
    words = [kind, "*" if cluster_id is None else _word(cluster_id)]
    if kind == RESOURCE:
        words.append("*" if resource_type is None else _word(resource_type))
    return ".".join(words)


def watch_facts(doc: Mapping[str, Any], *, deleted: bool = False) -> dict[str, Any]:
    """What watchers are told about a written document: Add, Change or Delete, and its times."""
    if deleted:
        wtype = WatchType.DELETE
    elif doc.get(store_port.CREATE_TIME) == doc.get(store_port.UPDATE_TIME):
        wtype = WatchType.ADD  # new, or revived after a soft delete
    else:
        wtype = WatchType.CHANGE
    times = {k: doc[k] for k in (store_port.CREATE_TIME, store_port.UPDATE_TIME) if k in doc}
    return {"type": wtype, **times}


def public_message(e: Entry, *, exchange: str) -> bus_port.Message:
    return bus_port.Message(
        exchange=exchange,
        routing_key=e.headers["resourceType"],
        headers=e.headers,
        body=orjson.dumps(e.body),
        message_id=e.id,
        persistent=True,
    )


def watch_item(e: Entry, doc: Mapping[str, Any] | None) -> dict[str, Any]:
    """The change as watch streams send it; ``doc`` (the object now) is used when ``e.watch`` is unset."""
    if e.watch is not None:
        wtype = e.watch["type"]
        times = {k: e.watch[k] for k in (store_port.CREATE_TIME, store_port.UPDATE_TIME) if k in e.watch}
        meta = {**e.key, **times}
    else:  # a change whose writer died or failed: the store tells what it looks like now
        facts = watch_facts(doc or {}, deleted=e.event == DELETE)
        wtype = facts["type"] if doc is not None or e.event == DELETE else WatchType.CHANGE
        meta = {k: v for k, v in (doc or e.key).items() if k != "data"}
    if e.kind == RESOURCE:
        meta[store_port.DELETED] = e.event == DELETE
        value = {**documents.render(meta), "data": e.body}
    else:
        value = {**e.body}  # events are rendered when recorded
    return {"id": e.id + "/watch", "type": wtype, "value": value}


def watch_messages(
    changes: Iterable[tuple[Entry, Mapping[str, Any] | None]], *, exchange: str
) -> list[bus_port.Message]:
    """One message per routing key for ``changes`` (entry, object now), each listing its changes in order."""
    groups: dict[str, tuple[Entry, list[dict[str, Any]]]] = {}
    for e, doc in changes:
        key = watch_routing_key(e.kind, e.key["clusterId"], e.headers["resourceType"])
        groups.setdefault(key, (e, []))[1].append(watch_item(e, doc))
    return [
        bus_port.Message(
            exchange=exchange,
            routing_key=key,
            headers={
                "clusterId": first.key["clusterId"],
                "resourceType": first.headers["resourceType"],
                "kind": first.kind,
                "events": str(len(items)),
            },
            body=orjson.dumps(items),
            message_id=f"{items[0]['id']}+{len(items)}",
            persistent=False,  # watchers are live only; a broker restart ends their queues anyway
        )
        for key, (first, items) in groups.items()
    ]
