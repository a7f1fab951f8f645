"""The durable outbox: every change is recorded in the store before it is written, and published from there.

Write path (:class:`~bcs.storage.service.core.StorageService`)::

    prepare(entries)   one bulk write to ``_bcs_outbox``: the entries, state "pending", owner = us
    <the change>       one bulk write to the resource's collection
    commit(entries)    in memory: the drainer may publish them now
    (or uncertain(entries) when the change failed: it may or may not have landed)

The drainer (:meth:`Outbox.run`, a guarded task) publishes committed entries in commit order with
publisher confirms (``Bus.publish_many``), then deletes them; a failed publish is retried with
backoff, so the order per object is kept and nothing is skipped. While the bus is down the committed
entries are *parked*: marked "ready" in the store, so a restart replays them exactly. Each entry
gives a public message (only for ``publish_resources``; exchange ``bcs-storage``, routing key =
resourceType, the upstream headers) and a watch message (every change, on the internal exchange
``<exchange>.watch``; see :mod:`bcs.storage.service.messages`). Message ids are the entry ids, stable
across retries, so consumers deduplicate redeliveries.

Several processes share one outbox. Each entry has an ``owner`` (a process id), and only its owner
publishes it, so one writer's changes stay in order. Owners renew a lease in ``_bcs_outbox_owners``;
when a lease has expired (or the owner left at shutdown, which expires its lease at once), another
process *claims* the owner with a conditional soft delete of its lease document, which exactly one
claimer wins, adopts the owner's entries (re-owning them) and publishes them: "ready" ones as they
are, "pending" ones (the owner died between recording and confirming a change) only when the store
shows that the change landed, else they are dropped. Uncertain entries of our own get that
check too. Double faults (a claimer dying mid-adoption, a partitioned owner still draining) give
duplicate publications with the same message id, never gaps. Order per object holds when one process
writes the object, which the data watch guarantees (one owner per cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from bcs import errors
from bcs.core import bus as bus_port
from bcs.storage.service import messages as msg
from bcs.storage.store import conditions as c
from bcs.storage.store import port as store_port

__all__ = ["Entry", "OUTBOX", "OWNERS", "Outbox"]

logger = logging.getLogger(__name__)

OUTBOX = "_bcs_outbox"
OWNERS = "_bcs_outbox_owners"
PENDING, READY, VERIFY = "pending", "ready", "verify"
DEFAULT_LEASE = 15.0  # seconds an owner's lease lasts; renewed every third of it
DEFAULT_BATCH = 500  # entries per publish_many
RETRY_MIN, RETRY_MAX = 0.2, 10.0  # backoff bounds, seconds
CLOSE_FLUSH = 5.0  # seconds close() spends publishing what is left before parking it


def _owner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@attrs.frozen
class Entry:
    """One change to publish. ``key`` is the object's store key; ``headers`` the public headers."""

    id: str
    seq: int
    kind: str
    collection: str
    key: Mapping[str, Any]
    event: str
    public: bool
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    # Set at commit: {"type": WatchType, "createTime"/"updateTime": datetime} of the written object.
    watch: Mapping[str, Any] | None = None

    def ident_fields(self) -> tuple[str, ...]:
        return c.FEATURE_FIELDS if self.kind == msg.RESOURCE else tuple(sorted(self.key))

    def ident(self) -> tuple[Any, ...]:
        """The object, comparable with :func:`_ident` of its stored document."""
        return (self.collection, *_ident(self.key, self.ident_fields()))

    def name_field(self) -> str:
        return "resourceName" if self.kind == msg.RESOURCE else "eventKey"

    def stored(self, owner: str, state: str) -> store_port.Upsert:
        extra = {
            "seq": self.seq,
            "owner": owner,
            "state": state,
            "kind": self.kind,
            "collection": self.collection,
            "objectKey": dict(self.key),
            "event": self.event,
            "public": self.public,
            "headers": dict(self.headers),
        }
        if self.watch is not None:
            extra["watch"] = dict(self.watch)
        return store_port.Upsert({"id": self.id}, self.body, extra)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Entry | None:
        """The entry a stored document holds; None for a ghost (see :meth:`Outbox._adopt`)."""
        if "data" not in doc or "seq" not in doc:
            return None
        return cls(
            id=doc["id"],
            seq=doc["seq"],
            kind=doc["kind"],
            collection=doc["collection"],
            key=doc["objectKey"],
            event=doc["event"],
            public=doc["public"],
            headers=doc["headers"],
            body=doc["data"],
            watch=doc.get("watch"),
        )


def _ident(doc: Mapping[str, Any], fields: Sequence[str]) -> tuple[Any, ...]:
    return tuple(doc.get(f) for f in fields)


def _reflects(entry: Entry, doc: Mapping[str, Any] | None) -> bool:
    """Whether the store shows ``entry``'s change as the object's latest state."""
    deleted = doc is None or doc.get(store_port.DELETED) is True
    if entry.event == msg.DELETE:
        return deleted
    if deleted:
        return False
    assert doc is not None
    expected = entry.body if entry.kind == msg.RESOURCE else entry.body.get("data")
    return doc.get("data") == expected


class Outbox:
    """Records changes durably and publishes them; see the module docstring."""

    def __init__(
        self,
        store: store_port.Store,
        bus: bus_port.Bus,
        *,
        exchange: str,
        owner: str | None = None,
        lease: float = DEFAULT_LEASE,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        self.store = store
        self.bus = bus
        self.exchange = exchange
        self.watch_exchange = msg.watch_exchange(exchange)
        self.owner = owner or _owner_id()
        self.lease = lease
        self.batch = batch
        self._memory: dict[str, Entry] = {}  # committed, not yet published, in commit order
        self._uncertain: dict[str, Entry] = {}  # their change failed; to be checked against the store
        self._backlog = True  # our entries may wait in the store (parked, adopted, left by a restart)
        self._wake = asyncio.Event()
        self._registered = False
        self._indexed = False
        self._seq = 0
        self._counter = itertools.count(1)
        self.published = 0  # messages confirmed by the bus (for metrics and tests)

    # -- the write path ---------------------------------------------------------------------------

    def entry(self, **fields: Any) -> Entry:
        """A new entry with a fresh id and sequence number (fields as :class:`Entry`)."""
        # Microseconds since the epoch, strictly increasing here: sortable across processes too.
        self._seq = max(self._seq + 1, time.time_ns() // 1000)
        return Entry(id=f"{self.owner}:{next(self._counter)}", seq=self._seq, **fields)

    async def prepare(self, entries: Sequence[Entry]) -> None:
        """Record ``entries`` as pending, before their change is written."""
        if not entries:
            return
        if not self._registered:
            # Our lease exists before our first entry does, so nobody takes us for a dead owner.
            await self._heartbeat()
            self._registered = True
        # Entry ids are new by construction: an insert, not an upsert (no lookup per entry).
        await self.store.insert_many(OUTBOX, [e.stored(self.owner, PENDING) for e in entries])

    def commit(self, entries: Iterable[Entry]) -> None:
        """The change of ``entries`` is written: publish them."""
        for e in entries:
            self._memory[e.id] = e
        self._wake.set()

    def uncertain(self, entries: Iterable[Entry]) -> None:
        """The change of ``entries`` failed and may or may not have been written."""
        for e in entries:
            self._uncertain[e.id] = e
        self._wake.set()

    # -- the drainer --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish until cancelled, backing off while the store or the bus is down."""
        loop = asyncio.get_running_loop()
        delay, failures, next_upkeep = RETRY_MIN, 0, 0.0
        while True:
            try:
                if loop.time() >= next_upkeep:
                    await self._upkeep()
                    next_upkeep = loop.time() + self.lease / 3
                progressed = await self.drain_once()
            except Exception as e:  # the drainer must outlive any failure; it retries with backoff
                failures += 1
                if not isinstance(e, errors.PortUnavailable):
                    logger.exception("outbox: unexpected failure; retrying in %.1fs", delay)
                elif failures == 1 or failures % 20 == 0:
                    logger.warning("outbox: cannot publish yet (%s); retrying in %.1fs", e.message, delay)
                with contextlib.suppress(Exception):
                    await self._park()
                await asyncio.sleep(delay)  # backoff while a port is down (not a synchronisation)
                delay = min(delay * 2, RETRY_MAX)
                continue
            if failures:
                logger.info("outbox: publishing again after %d failed attempt(s)", failures)
            delay, failures = RETRY_MIN, 0
            if not progressed:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(next_upkeep - loop.time(), 0.0)):
                        await self._wake.wait()

    async def drain_once(self) -> bool:
        """Publish one batch; False when there was nothing to publish."""
        self._wake.clear()  # before looking: a commit from now on wakes the next wait
        if self._uncertain:
            await self._mark(list(self._uncertain.values()), VERIFY, self._uncertain)
        if self._backlog:
            where = c.And(c.Eq("owner", self.owner), c.In("state", [READY, VERIFY]))
            docs = await self.store.find(OUTBOX, c.Query(where, sort=[("seq", 1)], limit=self.batch))
            if docs:
                await self._publish_stored(docs)
                return True
            self._backlog = False
        if self._memory:
            batch = list(itertools.islice(self._memory.values(), self.batch))
            await self._publish(batch, verify=())
            for e in batch:
                self._memory.pop(e.id, None)
            return True
        return False

    async def close(self) -> None:
        """Publish what is left (briefly), park the rest and hand over. Call after ``run`` stopped."""
        try:
            async with asyncio.timeout(CLOSE_FLUSH):
                while await self.drain_once():
                    pass
        except (errors.PortUnavailable, TimeoutError) as e:
            logger.warning("outbox: %d change(s) left for the next start (%s)", len(self._memory), e)
        if not self._registered:
            return  # we never wrote an entry
        try:
            await self._park()
            if self._uncertain:
                await self._mark(list(self._uncertain.values()), VERIFY, self._uncertain)
            if await self.store.count(OUTBOX, c.Eq("owner", self.owner)):
                # An expired lease: whoever runs next adopts what we leave, without waiting.
                await self.store.upsert(OWNERS, {"owner": self.owner}, None, extra={"leaseUntil": _EPOCH})
            else:
                await self.store.purge(OWNERS, c.Eq("owner", self.owner))
        except errors.PortUnavailable as e:
            logger.warning("outbox: cannot hand over (%s); others adopt our entries in %.0fs", e, self.lease)

    # -- publishing ---------------------------------------------------------------------------------

    async def _publish_stored(self, docs: list[dict[str, Any]]) -> None:
        entries, verify, ghosts = [], set(), []
        for doc in docs:
            entry = Entry.from_doc(doc)
            if entry is None:
                ghosts.append(doc["id"])
                continue
            entries.append(entry)
            if doc.get("state") == VERIFY:
                verify.add(entry.id)
        await self._publish(entries, verify=verify, also_delete=ghosts)

    async def _publish(
        self, entries: list[Entry], *, verify: Iterable[str], also_delete: Sequence[str] = ()
    ) -> None:
        verify = set(verify)
        unknown = [e for e in entries if e.id in verify or e.watch is None]
        docs = await self._lookup(unknown, with_data=bool(verify)) if unknown else {}
        messages, changes = [], []
        for e in entries:
            doc = docs.get(e.ident())
            if e.id in verify and not _reflects(e, doc):
                continue  # the change never landed (or a later one replaced it): nothing to tell
            if e.public:
                messages.append(msg.public_message(e, exchange=self.exchange))
            changes.append((e, doc))
        messages += msg.watch_messages(changes, exchange=self.watch_exchange)
        if messages:
            await self.bus.publish_many(messages)
            self.published += len(messages)
        ids = [e.id for e in entries] + list(also_delete)
        await self.store.purge(OUTBOX, c.In("id", ids))

    async def _lookup(
        self, entries: list[Entry], *, with_data: bool
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        """The stored documents of the entries' objects (deleted ones too), by :meth:`Entry.ident`."""
        groups: dict[tuple[str, str, str, tuple[str, ...]], set[str]] = {}
        for e in entries:
            group = (e.collection, e.key["clusterId"], e.name_field(), e.ident_fields())
            groups.setdefault(group, set()).add(e.key[e.name_field()])
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        for (collection, cluster, name_field, fields), names in groups.items():
            meta = [*fields, "namespace", store_port.CREATE_TIME, store_port.UPDATE_TIME, store_port.DELETED]
            where = c.And(c.Eq("clusterId", cluster), c.In(name_field, sorted(names)))
            query = c.Query(where, fields=[*meta, "data"] if with_data else meta, include_deleted=True)
            for doc in await self.store.find(collection, query):
                found[(collection, *_ident(doc, fields))] = doc
        return found

    # -- parking, leases, adoption ------------------------------------------------------------------

    async def _mark(self, entries: list[Entry], state: str, pending: dict[str, Entry]) -> None:
        """Set the state (and watch facts) of our stored ``entries``, then forget them from ``pending``."""
        updates = [
            store_port.Upsert({"id": e.id}, None, {"state": state, **({"watch": e.watch} if e.watch else {})})
            for e in entries
        ]
        for start in range(0, len(updates), self.batch):
            await self.store.upsert_many(OUTBOX, updates[start : start + self.batch])
        for e in entries:
            pending.pop(e.id, None)
        self._backlog = True

    async def _park(self) -> None:
        """Committed entries wait in the store as "ready" (a restart replays them exactly)."""
        if self._memory:
            await self._mark(list(self._memory.values()), READY, self._memory)

    async def _heartbeat(self) -> None:
        until = _now() + datetime.timedelta(seconds=self.lease)
        await self.store.upsert(OWNERS, {"owner": self.owner}, None, extra={"leaseUntil": until})

    async def _upkeep(self) -> None:
        if not self._indexed:
            for name, keys, unique in (
                ("outbox_id", [("id", 1)], True),
                ("outbox_owner_seq", [("owner", 1), ("seq", 1)], False),
            ):
                with contextlib.suppress(errors.Conflict):  # an equal index exists under another name
                    await self.store.ensure_index(OUTBOX, name, keys, unique=unique)
            self._indexed = True
        await self._heartbeat()
        self._registered = True
        await self._claim_orphans()

    async def _claim_orphans(self) -> None:
        now = _now()
        leases = await self.store.find(OWNERS, c.Query(include_deleted=True))
        live = [d for d in leases if not d.get(store_port.DELETED)]
        expired = [d["owner"] for d in live if d["owner"] != self.owner and d["leaseUntil"] <= now]
        # A lease soft-deleted recently is being adopted by its claimer: leave its entries alone.
        recent = now - datetime.timedelta(seconds=self.lease)
        known = {d["owner"] for d in live} | {self.owner}
        known |= {d["owner"] for d in leases if d.get(store_port.DELETED) and d["updateTime"] > recent}
        # A state update racing the purge of its entry leaves a ghost with neither owner nor data.
        await self.store.purge(OUTBOX, c.Exists("owner", present=False))
        # Owners of entries without a lease: a claimer died before finishing the adoption.
        while found := await self.store.find(
            # Exists: NotIn also matches documents without the field (Mongo semantics).
            OUTBOX,
            c.Query(c.And(c.Exists("owner"), c.NotIn("owner", sorted(known))), fields=["owner"], limit=1),
        ):
            stray = found[0]["owner"]
            known.add(stray)
            await self.store.upsert(OWNERS, {"owner": stray}, None, extra={"leaseUntil": _EPOCH})
            expired.append(stray)
        for owner in expired:
            claim = c.And(c.Eq("owner", owner), c.Range("leaseUntil", lt=now))
            if await self.store.soft_delete(OWNERS, claim) == 1:  # exactly one claimer wins
                adopted = await self._adopt(owner)
                await self.store.purge(OWNERS, c.Eq("owner", owner))
                if adopted:
                    logger.info("outbox: adopted %d unpublished change(s) of %s", adopted, owner)

    async def _adopt(self, owner: str) -> int:
        """Re-own ``owner``'s entries: "ready" stay ready, others must be checked (see ``_reflects``)."""
        total = 0
        while docs := await self.store.find(
            OUTBOX,
            c.Query(c.Eq("owner", owner), fields=["id", "state"], sort=[("seq", 1)], limit=self.batch),
        ):
            # Upserts by id; one whose entry was deleted meanwhile becomes a ghost without data,
            # which the drainer deletes.
            updates = [
                store_port.Upsert(
                    {"id": d["id"]},
                    None,
                    {"owner": self.owner, "state": READY if d.get("state") == READY else VERIFY},
                )
                for d in docs
            ]
            await self.store.upsert_many(OUTBOX, updates)
            total += len(docs)
        self._backlog = self._backlog or total > 0
        return total


_EPOCH = store_port.EPOCH
