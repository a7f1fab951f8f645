"""Which process runs which cluster's data watch: ownership keys on leases in the KV port.

Every process holds one lease (TTL ``ttl`` seconds, refreshed every third of it) and, on it, a
member key ``<prefix>datawatch/members/<identity>`` and one owner key
``<prefix>datawatch/owners/<clusterId>`` (value: its identity) per cluster it runs. Keys are taken
by compare-and-swap on absence, so a cluster has at most one owner. Each process takes at most its
fair share, ``ceil(clusters / members)``, preferring clusters by rendezvous hashing (so processes
prefer different clusters) and handing back what exceeds its share when members join; the clusters
of a process that dies are free once its lease expires, i.e. within ``ttl`` seconds.

One writer at a time: a process treats its ownership as valid only until ``ttl - margin`` seconds
after it *sent* its last successful refresh; the store expires the lease no earlier than ``ttl``
after it *received* that refresh. So a process cut off from the KV store stops its watches before
anyone else can take them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Iterable

from bcs import errors
from bcs.core import kv as kv_mod

__all__ = ["Ownership"]

logger = logging.getLogger(__name__)


def _rank(identity: str, cluster_id: str) -> bytes:
    return hashlib.blake2b(f"{identity}\0{cluster_id}".encode(), digest_size=8).digest()


class Ownership:
    """The ownership state of this process; :meth:`balance` is called periodically by the manager."""

    def __init__(self, kv: kv_mod.KV, *, prefix: str, identity: str, ttl: int) -> None:
        self.kv = kv
        self.identity = identity
        self.ttl = ttl
        self.margin = max(ttl / 5, 0.5)
        self.members_prefix = f"{prefix}datawatch/members/"
        self.owners_prefix = f"{prefix}datawatch/owners/"
        self.lease: int | None = None
        self.valid_until = 0.0  # monotonic: past it, our keys may be gone
        self.owned: frozenset[str] = frozenset()
        self._lock = asyncio.Lock()

    @property
    def valid(self) -> bool:
        return self.lease is not None and time.monotonic() < self.valid_until

    def _lost(self, why: str) -> None:
        if self.owned:
            logger.warning("%s: lost ownership of %s (%s)", self.identity, ", ".join(sorted(self.owned)), why)
        self.lease = None
        self.owned = frozenset()

    async def keepalive(self) -> None:
        """Refresh the lease (granting a new one, with the member key, if there is none)."""
        async with self._lock:  # the manager's keepalive task and a reconcile may both get here
            sent = time.monotonic()
            if self.lease is not None:
                try:
                    await self.kv.refresh_lease(self.lease)
                except errors.NotFound:
                    self._lost("lease expired")
            if self.lease is None:
                granted = await self.kv.grant_lease(self.ttl)
                member = self.members_prefix + self.identity
                await self.kv.put(member, self.identity.encode(), lease=granted.id)
                self.lease = granted.id
            self.valid_until = sent + self.ttl - self.margin

    async def balance(self, clusters: Iterable[str]) -> frozenset[str]:
        """Take free clusters up to our fair share, hand back the excess; return what we own now."""
        if not self.valid:
            await self.keepalive()
        assert self.lease is not None
        wanted = sorted(set(clusters), key=lambda cid: _rank(self.identity, cid))
        members = max(1, len(await self.kv.range(self.members_prefix)))
        fair = math.ceil(len(wanted) / members)
        owners = {kv.key[len(self.owners_prefix) :]: kv for kv in await self.kv.range(self.owners_prefix)}
        mine = [cid for cid in wanted if cid in owners and owners[cid].value == self.identity.encode()]
        for cid, item in owners.items():
            if item.value == self.identity.encode() and (cid not in wanted or item.lease != self.lease):
                await self._give_back(cid, item.mod_revision)  # a removed cluster, or a stale key
                if cid in mine:
                    mine.remove(cid)
        # Hand back the clusters we like least (by rank) beyond our share.
        while len(mine) > fair:
            cid = mine.pop()
            await self._give_back(cid, owners[cid].mod_revision)
        for cid in wanted:
            if len(mine) >= fair:
                break
            if cid not in owners and await self.kv.compare_and_swap(
                self.owners_prefix + cid, self.identity.encode(), expected_mod_revision=0, lease=self.lease
            ):
                mine.append(cid)
                logger.info("%s: took cluster %s", self.identity, cid)
        self.owned = frozenset(mine)
        return self.owned

    async def _give_back(self, cluster_id: str, mod_revision: int) -> None:
        if await self.kv.compare_and_swap(
            self.owners_prefix + cluster_id, None, expected_mod_revision=mod_revision
        ):
            logger.info("%s: handed back cluster %s", self.identity, cluster_id)

    async def release(self) -> None:
        """Give up everything now (at shutdown), so others need not wait for the lease to expire."""
        lease, self.lease = self.lease, None
        self.owned = frozenset()
        if lease is not None:
            await self.kv.revoke_lease(lease)
