"""The KV port's abstract class and value types; :func:`open_kv` picks the adapter from settings.

The model is etcd v3's: one store-wide revision that every write bumps by one (a write touching
several keys, such as :meth:`KV.delete_prefix` or a lease expiry, shares one revision among its
events), per-key create/mod revisions and versions, leases whose expiry deletes their keys, and a
bounded history that :meth:`KV.watch_prefix` can replay until it is compacted.
"""

from __future__ import annotations

import abc
import pathlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Literal

import attrs

from bcs import errors
from bcs.core import ports

if TYPE_CHECKING:
    from bcs.config import KvSettings

__all__ = ["KV", "KeyValue", "Lease", "RevisionCompacted", "WatchEvent", "open_kv"]


class RevisionCompacted(errors.BcsError):
    """A watch asked for history older than the store keeps; re-list, then watch from the present.

    ``compact_revision`` is the oldest revision a watch may still start from.
    """

    status = 410

    def __init__(self, message: str, *, compact_revision: int) -> None:
        super().__init__(message)
        self.compact_revision = compact_revision


@attrs.frozen
class KeyValue:
    """One stored key. Revisions are store-wide and strictly increasing, as in etcd."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int  # number of puts since creation, 1 for a new key
    lease: int = 0  # 0 = no lease


@attrs.frozen
class WatchEvent:
    """A change seen by :meth:`KV.watch_prefix`; ``value`` is empty for deletes."""

    type: Literal["put", "delete"]
    key: str
    value: bytes
    revision: int  # the mod revision of this change


@attrs.frozen
class Lease:
    """A granted lease; ``ttl`` is what the store granted (etcd raises small TTLs to its minimum)."""

    id: int
    ttl: int  # seconds


class KV(ports.Port):
    """What bcs needs from etcd. Every method may raise :class:`bcs.errors.PortUnavailable`."""

    name: str = "kv"

    @abc.abstractmethod
    async def get(self, key: str) -> KeyValue | None: ...

    @abc.abstractmethod
    async def put(self, key: str, value: bytes, *, lease: int = 0) -> int:
        """Write ``value``; return the new revision.

        ``lease=0`` detaches the key from any lease; an unknown lease raises NotFound.
        """

    @abc.abstractmethod
    async def delete(self, key: str) -> bool:
        """Delete one key; True when it existed."""

    @abc.abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; return how many were deleted."""

    @abc.abstractmethod
    async def range(self, prefix: str) -> list[KeyValue]:
        """Every key starting with ``prefix``, sorted by key."""

    @abc.abstractmethod
    async def revision(self) -> int:
        """The store's current revision."""

    @abc.abstractmethod
    def watch_prefix(self, prefix: str, *, start_revision: int | None = None) -> AsyncIterator[WatchEvent]:
        """Changes under ``prefix`` in revision order, from ``start_revision`` (inclusive) if given.

        Without ``start_revision`` the watch starts after the revision current when iteration
        begins (the first ``__anext__``), so list-then-watch callers should pass
        ``revision() + 1`` read before listing. The iterator survives a restart of the service
        (re-watching from the last revision seen + 1), and ends only when the consumer stops
        iterating or the adapter is closed; close it with ``contextlib.aclosing`` when breaking
        out early. History older than the store keeps raises :class:`RevisionCompacted`.
        """

    @abc.abstractmethod
    async def grant_lease(self, ttl: int) -> Lease:
        """A lease that expires ``ttl`` seconds from now unless refreshed; its keys die with it."""

    @abc.abstractmethod
    async def refresh_lease(self, lease_id: int) -> None:
        """Keep-alive: restart the lease's TTL. Raises NotFound when the lease has expired."""

    @abc.abstractmethod
    async def revoke_lease(self, lease_id: int) -> None:
        """End the lease now, deleting its keys; a lease that is already gone is not an error."""

    @abc.abstractmethod
    async def compare_and_swap(
        self, key: str, value: bytes | None, *, expected_mod_revision: int, lease: int = 0
    ) -> bool:
        """Atomically write ``value`` (or delete the key when ``value`` is None) if the key's
        mod revision equals ``expected_mod_revision`` (0 = the key must not exist). True if the
        comparison held (deleting an absent key with ``expected_mod_revision=0`` is True and
        changes nothing)."""


def open_kv(settings: KvSettings, *, data_dir: pathlib.Path) -> KV:
    """The adapter the settings name (not started)."""
    if settings.backend == "etcd":
        from bcs.core.kv import etcd

        return etcd.EtcdKV(settings)
    from bcs.core.kv import sqlite

    return sqlite.SqliteKV(data_dir / "kv.sqlite3", settings)
