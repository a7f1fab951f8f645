"""The durable outbox: every change is recorded in the store before it is written, and published from there.

Write path (:class:`~bcs.storage.service.core.StorageService`)::

    groups = prepare(entries)   one write to ``_bcs_outbox``: the entries, state "pending", owner = us
    <the change>                one bulk write to the resource's collection
    commit(groups, facts)       in memory: the drainer may publish them now
    (or uncertain(groups) when the change failed: it may or may not have landed)

The entries of one change are stored together, as one *group* document per (at most)
:data:`GROUP_ENTRIES` entries: recording and forgetting a batch of a thousand changes is a couple of
document writes, not a thousand (MongoDB-wire servers pay per document, and a delete by a long
``$in`` of ids costs more than the changes themselves). The drainer (:meth:`Outbox.run`, a guarded
task) publishes committed groups in commit order with publisher confirms (``Bus.publish_many``),
then deletes them; a failed publish is retried with backoff, so the order per object is kept and
nothing is skipped. While the bus is down the committed groups are *parked*: marked "ready" in the
store, so a restart replays them exactly. Each entry
gives a public message (only for ``publish_resources``; exchange ``bcs-storage``, routing key =
resourceType, the upstream headers) and a watch message (every change, on the internal exchange
``<exchange>.watch``; see :mod:`bcs.storage.service.messages`). Message ids are the entry ids, stable
across retries, so consumers deduplicate redeliveries.

Several processes share one outbox. Each entry has an ``owner`` (a process id), and only its owner
publishes it, so one writer's changes stay in order. Owners renew a lease in ``_bcs_outbox_owners``;
when a lease has expired (or the owner left at shutdown, which expires its lease at once), another
process *claims* the owner with a conditional soft delete of its lease document, which exactly one
claimer wins, adopts the owner's groups (re-owning them) and publishes them: "ready" ones as they
are, "pending" ones (the owner died between recording and confirming a change) entry by entry, only
where the store shows that the change landed; the others are dropped. Uncertain entries of our own get that
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import orjson

from bcs import errors
from bcs.core import bus as bus_port
from bcs.storage.service import messages as msg
from bcs.storage.store import conditions as c
from bcs.storage.store import port as store_port

__all__ = ["Entry", "GROUP_ENTRIES", "Group", "OUTBOX", "OWNERS", "Outbox", "count_entries"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

OUTBOX = "_bcs_outbox"
OWNERS = "_bcs_outbox_owners"
PENDING, READY, VERIFY = "pending", "ready", "verify"
DEFAULT_LEASE = 15.0  # seconds an owner's lease lasts; renewed every third of it
DEFAULT_BATCH = 500  # entries per publish_many
GROUP_ENTRIES = 200  # entries per stored group document
GROUP_BYTES = 4 << 20  # JSON bytes of entries per group document (MongoDB's limit is 16 MiB)
RETRY_MIN, RETRY_MAX = 0.2, 10.0  # backoff bounds, seconds
OLD_INDEX = "outbox_owner_seq"  # made by earlier versions; the (owner, state, seq) index replaces it
CLOSE_FLUSH = 5.0  # seconds close() spends publishing what is left before parking it
# Published groups are deleted together: once this many wait, or the oldest has waited PURGE_DELAY.
# (A crash meanwhile republishes them, with the same message ids; one delete per group cost a
# Mongo-wire server about as much as recording the group.)
PURGE_GROUPS = 32
PURGE_DELAY = 0.25  # seconds


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

    def stored(self) -> dict[str, Any]:
        """The entry as its group document lists it (watch facts travel beside, see :class:`Group`)."""
        return {
            "id": self.id,
            "seq": self.seq,
            "kind": self.kind,
            "collection": self.collection,
            "objectKey": dict(self.key),
            "event": self.event,
            "public": self.public,
            "headers": dict(self.headers),
            "data": self.body,
        }

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any], watch: Mapping[str, Any] | None) -> Entry:
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
            watch=watch,
        )


@attrs.frozen
class Group:
    """Entries recorded together: one document of ``_bcs_outbox``, published and deleted as one."""

    id: str
    entries: tuple[Entry, ...]

    @property
    def seq(self) -> int:
        return self.entries[0].seq

    def facts(self) -> list[Mapping[str, Any] | None]:
        return [e.watch for e in self.entries]

    def stored(self, owner: str, state: str, text: str) -> store_port.Upsert:
        """The group's document; ``text`` is its entries as one JSON array (see :func:`_groups`)."""
        extra = {
            "seq": self.seq,
            "owner": owner,
            "state": state,
            "count": len(self.entries),
            # One JSON text, not nested documents: Mongo-wire servers pay per field to encode,
            # store and delete, and nothing ever queries inside the entries.
            "entries": text,
            "watch": self.facts(),
        }
        return store_port.Upsert({"id": self.id}, None, extra)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Group | None:
        """The group a stored document holds; None for a ghost an earlier version left."""
        if "entries" in doc and "seq" in doc:
            entries = orjson.loads(doc["entries"])
            facts = doc.get("watch") or [None] * len(entries)
            return cls(doc["id"], tuple(map(Entry.from_stored, entries, facts)))
        if "data" in doc and "seq" in doc and "kind" in doc:  # one entry per document (earlier versions)
            return cls(doc["id"], (Entry.from_stored(doc, doc.get("watch")),))
        return None


def _groups(entries: Sequence[Entry], new_id: Callable[[], str]) -> list[tuple[Group, str]]:
    """``entries`` cut into groups of at most GROUP_ENTRIES entries and about GROUP_BYTES, each with
    its entries' JSON array (every entry encoded once)."""
    out: list[tuple[Group, str]] = []
    chunk: list[Entry] = []
    pieces: list[bytes] = []
    size = 0

    def close() -> None:
        out.append((Group(new_id(), tuple(chunk)), (b"[" + b",".join(pieces) + b"]").decode()))

    for e in entries:
        piece = orjson.dumps(e.stored())
        if chunk and (len(chunk) >= GROUP_ENTRIES or size + len(piece) > GROUP_BYTES):
            close()
            chunk, pieces, size = [], [], 0
        chunk.append(e)
        pieces.append(piece)
        size += len(piece)
    if chunk:
        close()
    return out


def _first(items: Iterable[_T], size: Callable[[_T], int], limit: int) -> list[_T]:
    """The first items (at least one) holding at most ``limit`` entries in all."""
    out: list[_T] = []
    total = 0
    for item in items:
        n = size(item)
        if out and total + n > limit:
            break
        out.append(item)
        total += n
    return out


async def count_entries(store: store_port.Store, where: c.Condition | None = None) -> int:
    """How many entries the stored groups matching ``where`` hold (for tests and benchmarks)."""
    docs = await store.find(OUTBOX, c.Query(where, fields=["count"], include_deleted=True))
    return sum(d.get("count", 1) for d in docs)


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
        self._memory: dict[str, Group] = {}  # committed, not yet published, in commit order
        self._uncertain: dict[str, Group] = {}  # their change failed; to be checked against the store
        self._backlog = True  # our groups may wait in the store (parked, adopted, left by a restart)
        self._wake = asyncio.Event()
        self._registered = False
        self._indexed = False
        self._seq = 0
        self._counter = itertools.count(1)
        self._published: list[str] = []  # ids of published groups, to delete (see PURGE_GROUPS)
        self._published_at = 0.0  # loop time the oldest of them was published
        self.published = 0  # messages confirmed by the bus (for metrics and tests)

    # -- the write path ---------------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"{self.owner}:{next(self._counter)}"

    def entry(self, **fields: Any) -> Entry:
        """A new entry with a fresh id and sequence number (fields as :class:`Entry`)."""
        # Microseconds since the epoch, strictly increasing here: sortable across processes too.
        self._seq = max(self._seq + 1, time.time_ns() // 1000)
        return Entry(id=self._next_id(), seq=self._seq, **fields)

    async def prepare(self, entries: Sequence[Entry]) -> list[Group]:
        """Record ``entries`` as pending, before their change is written; the groups they are in."""
        if not entries:
            return []
        if not self._registered:
            # Our lease exists before our first entry does, so nobody takes us for a dead owner.
            await self._heartbeat()
            self._registered = True
        groups = _groups(entries, self._next_id)
        # Group ids are new by construction: an insert, not an upsert (no lookup per group).
        await self.store.insert_many(OUTBOX, [g.stored(self.owner, PENDING, text) for g, text in groups])
        return [g for g, _ in groups]

    def commit(self, groups: Sequence[Group], facts: Sequence[Mapping[str, Any] | None]) -> None:
        """The change of ``groups`` is written: publish them. ``facts`` are the watch facts of
        their entries, in order (None: the drainer looks the object up)."""
        ids = (e.id for g in groups for e in g.entries)
        told = dict(zip(ids, facts, strict=True))
        for g in groups:
            self._memory[g.id] = Group(g.id, tuple(attrs.evolve(e, watch=told[e.id]) for e in g.entries))
        self._wake.set()

    def uncertain(self, groups: Iterable[Group]) -> None:
        """The change of ``groups`` failed and may or may not have been written."""
        for g in groups:
            self._uncertain[g.id] = g
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
                until = next_upkeep
                if self._published:
                    until = min(until, self._published_at + PURGE_DELAY)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(until - loop.time(), 0.0)):
                        await self._wake.wait()

    async def drain_once(self) -> bool:
        """Publish one batch; False when there was nothing to publish."""
        self._wake.clear()  # before looking: a commit from now on wakes the next wait
        await self._purge_published()
        if self._uncertain:
            await self._mark(list(self._uncertain.values()), VERIFY, self._uncertain)
        if self._backlog:
            docs = await self._stored_batch()
            if docs:
                await self._publish_stored(docs)
                # At once: the next look at the backlog must not find them again.
                await self._purge_published(force=True)
                return True
            self._backlog = False
        if self._memory:
            batch = _first(self._memory.values(), lambda g: len(g.entries), self.batch)
            await self._publish(batch, verify=())
            for g in batch:
                self._memory.pop(g.id, None)
            return True
        return False

    async def _stored_batch(self) -> list[dict[str, Any]]:
        """Our oldest stored groups waiting to be published ("ready" or "verify"), about a batch."""
        where = c.And(c.Eq("owner", self.owner), c.In("state", [READY, VERIFY]))
        heads = await self.store.find(
            OUTBOX, c.Query(where, fields=["id", "count"], sort=[("seq", 1)], limit=self.batch)
        )
        ids = [d["id"] for d in _first(heads, lambda d: d.get("count", 1), self.batch)]
        if not ids:
            return []
        return await self.store.find(OUTBOX, c.Query(c.In("id", ids), sort=[("seq", 1)]))

    async def close(self) -> None:
        """Publish what is left (briefly), park the rest and hand over. Call after ``run`` stopped."""
        try:
            async with asyncio.timeout(CLOSE_FLUSH):
                while await self.drain_once():
                    pass
                await self._purge_published(force=True)
        except (errors.PortUnavailable, TimeoutError) as e:
            left = sum(len(g.entries) for g in self._memory.values())
            logger.warning("outbox: %d change(s) left for the next start (%s)", left, e)
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
        groups, verify, ghosts = [], set(), []
        for doc in docs:
            group = Group.from_doc(doc)
            if group is None:
                ghosts.append(doc["id"])
                continue
            groups.append(group)
            if doc.get("state") == VERIFY:
                verify.add(group.id)
        await self._publish(groups, verify=verify, also_delete=ghosts)

    async def _publish(
        self, groups: list[Group], *, verify: Iterable[str], also_delete: Sequence[str] = ()
    ) -> None:
        verify = set(verify)
        entries = [(e, g.id in verify) for g in groups for e in g.entries]
        unknown = [e for e, check in entries if check or e.watch is None]
        docs = await self._lookup(unknown, with_data=bool(verify)) if unknown else {}
        messages, changes = [], []
        for e, check in entries:
            doc = docs.get(e.ident())
            if check and not _reflects(e, doc):
                continue  # the change never landed (or a later one replaced it): nothing to tell
            if e.public:
                messages.append(msg.public_message(e, exchange=self.exchange))
            changes.append((e, doc))
        messages += msg.watch_messages(changes, exchange=self.watch_exchange)
        if messages:
            await self.bus.publish_many(messages)
            self.published += len(messages)
        if not self._published:
            self._published_at = asyncio.get_running_loop().time()
        self._published += [g.id for g in groups]
        self._published += also_delete
        await self._purge_published()

    async def _purge_published(self, *, force: bool = False) -> None:
        """Delete the published groups once enough wait, or the oldest has waited long enough."""
        if not self._published:
            return
        due = asyncio.get_running_loop().time() >= self._published_at + PURGE_DELAY
        if force or due or len(self._published) >= PURGE_GROUPS:
            ids = list(self._published)
            await self.store.purge(OUTBOX, c.In("id", ids))
            del self._published[: len(ids)]
            self._published_at = asyncio.get_running_loop().time()

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

    async def _mark(self, groups: list[Group], state: str, pending: dict[str, Group]) -> None:
        """Set the state (and watch facts) of our stored ``groups``, then forget them from ``pending``."""
        updates = [
            store_port.Upsert({"id": g.id}, None, {"state": state, "watch": g.facts()}) for g in groups
        ]
        for start in range(0, len(updates), self.batch):
            # An update, never an upsert: a group purged meanwhile stays gone.
            await self.store.update_many(OUTBOX, updates[start : start + self.batch])
        for g in groups:
            pending.pop(g.id, None)
        self._backlog = True

    async def _park(self) -> None:
        """Committed groups wait in the store as "ready" (a restart replays them exactly)."""
        if self._memory:
            await self._mark(list(self._memory.values()), READY, self._memory)

    async def _heartbeat(self) -> None:
        until = _now() + datetime.timedelta(seconds=self.lease)
        await self.store.upsert(OWNERS, {"owner": self.owner}, None, extra={"leaseUntil": until})

    async def _upkeep(self) -> None:
        if not self._indexed:
            for name, keys, unique in (
                ("outbox_id", [("id", 1)], True),
                # Covers the backlog's (owner, state) whole: some servers plan no index otherwise.
                ("outbox_owner_state_seq", [("owner", 1), ("state", 1), ("seq", 1)], False),
            ):
                with contextlib.suppress(errors.Conflict):  # an equal index exists under another name
                    await self.store.ensure_index(OUTBOX, name, keys, unique=unique)
            if OLD_INDEX in {i.name for i in await self.store.list_indexes(OUTBOX)}:
                with contextlib.suppress(errors.NotFound):  # another process dropped it first
                    await self.store.drop_index(OUTBOX, OLD_INDEX)
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
        # Earlier versions could leave a ghost with neither owner nor entries (a state upsert racing
        # the purge of its entry); states are updates now, which never create a document.
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
        """Re-own ``owner``'s groups: "ready" stay ready, others must be checked (see ``_reflects``)."""
        total = 0
        while docs := await self.store.find(
            OUTBOX,
            c.Query(
                c.Eq("owner", owner), fields=["id", "state", "count"], sort=[("seq", 1)], limit=self.batch
            ),
        ):
            # Updates by id: a group its old owner purged meanwhile (it was alive after all) is
            # not recreated.
            updates = [
                store_port.Upsert(
                    {"id": d["id"]},
                    None,
                    {"owner": self.owner, "state": READY if d.get("state") == READY else VERIFY},
                )
                for d in docs
            ]
            await self.store.update_many(OUTBOX, updates)
            total += sum(d.get("count", 1) for d in docs)
        self._backlog = self._backlog or total > 0
        return total


_EPOCH = store_port.EPOCH
