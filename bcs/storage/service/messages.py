"""The messages a change becomes: the public one (the upstream contract) and the watch one.

Public: exchange ``bcs-storage`` (configurable), routing key = resourceType, headers ``clusterId``,
``namespace`` (if any), ``resourceType``, ``resourceName``, ``event`` (``update`` | ``delete``), body =
JSON of the object's ``data``, persistent; only for the configured ``publish_resources``.

Watch: every change, on the internal exchange ``<exchange>.watch`` (so consumers of the public
exchange never see these), routing key ``d.<clusterId>.<resourceType>`` (``e.<clusterId>`` for
events), headers ``clusterId``, ``resourceType``, ``kind``, ``watchType``, body = the document as a
watch stream sends it (times rendered), not persistent (watchers are live). Message ids are the
outbox entry's id (``/watch`` appended), stable across retries so receivers deduplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    "watch_message",
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


def watch_message(e: Entry, doc: Mapping[str, Any] | None, *, exchange: str) -> bus_port.Message:
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
    cluster = e.key["clusterId"]
    return bus_port.Message(
        exchange=exchange,
        routing_key=watch_routing_key(e.kind, cluster, e.headers["resourceType"]),
        headers={
            "clusterId": cluster,
            "resourceType": e.headers["resourceType"],
            "kind": e.kind,
            "watchType": str(wtype),
        },
        body=orjson.dumps(value),
        message_id=e.id + "/watch",
        persistent=False,  # watchers are live only; a broker restart ends their queues anyway
    )
