"""The production KV adapter: etcd v3 through aetcd (native asyncio gRPC).

aetcd replaces python-etcd3, which fails to import with current protobuf and is sync-only. Client
errors are mapped once, in :func:`_mapped`: a connection failure becomes
:class:`~bcs.errors.PortUnavailable` naming the endpoint. With several endpoints a failed call moves
the adapter to the next one for the following calls; only reads are retried on the next endpoint at
once, because a write may have been applied before the connection broke. Watches reconnect with
backoff and resume from the last revision they delivered + 1, so an etcd restart loses and
duplicates nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import aetcd

from bcs import errors
from bcs.core.kv import port

if TYPE_CHECKING:
    from bcs.config import KvSettings

__all__ = ["EtcdKV"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CONNECTION_ERRORS = (aetcd.ConnectionFailedError, aetcd.ConnectionTimeoutError, aetcd.WatchTimeoutError)
_REVISION_PROBE = b"\x00bcs/revision-probe/"  # a range nobody writes; its header carries the revision
_BACKOFF_START, _BACKOFF_MAX = 0.1, 2.0
_GRPC_OPTIONS = {
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    # gRPC's default reconnect backoff grows to 120 s; an etcd back after a restart should be used
    # within a couple of seconds.
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 2000,
    # Own connections per client: a subchannel shared through gRPC's global pool with a client that
    # is closing can fail a fresh client's first calls.
    "grpc.use_local_subchannel_pool": 1,
}


def _parse_endpoint(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http":
        raise errors.ConfigError(
            f"kv.endpoints: {url!r}: only http:// endpoints are supported (aetcd has no TLS)"
        )
    if not parts.hostname:
        raise errors.ConfigError(f"kv.endpoints: {url!r}: no host")
    return parts.hostname, parts.port or 2379


def _range_end(prefix: bytes) -> bytes:
    """etcd's end of the range of keys starting with ``prefix`` (``\\0`` = every key for ``b""``)."""
    end = bytearray(prefix)
    for i in reversed(range(len(end))):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\x00"


def _to_kv(kv: aetcd.KeyValue) -> port.KeyValue:
    return port.KeyValue(
        key=kv.key.decode(),
        value=kv.value,
        create_revision=kv.create_revision,
        mod_revision=kv.mod_revision,
        version=kv.version,
        lease=kv.lease,
    )


class EtcdKV(port.KV):
    """The KV port on an etcd v3 cluster (``settings.endpoints``: ``http://host:port`` URLs)."""

    def __init__(self, settings: KvSettings) -> None:
        self._settings = settings
        self._endpoints = [_parse_endpoint(url) for url in settings.endpoints]
        if not self._endpoints:
            raise errors.ConfigError("kv.endpoints: at least one etcd endpoint is needed")
        self._clients: dict[int, aetcd.Client] = {}
        self._current = 0
        self._closed = asyncio.Event()
        self._watches: set[aetcd.Watch] = set()

    def _where(self, index: int | None = None) -> str:
        host, port_ = self._endpoints[self._current if index is None else index]
        return f"{host}:{port_}"

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the client; it connects lazily, so this succeeds while etcd is down (see ping)."""
        self._client(self._current)

    async def close(self) -> None:
        self._closed.set()
        # Swapped out first: a watch cancelled here must not be cancelled again by its generator
        # after the client is gone.
        watches, self._watches = self._watches, set()
        for watch in watches:
            with contextlib.suppress(aetcd.ClientError):
                await watch.cancel()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(aetcd.ClientError):
                await client.close()
        # grpc.aio ends a cancelled stream's status task a few loop turns after the channel closes;
        # wait for it (bounded) so that close() leaves nothing of ours running.
        settling = {t for t in _grpc_tasks() if not t.done()}
        if settling:
            await asyncio.wait(settling, timeout=2.0)

    async def ping(self) -> None:
        await self.revision()

    # -- plumbing --------------------------------------------------------------------------------

    def _client(self, index: int) -> aetcd.Client:
        if self._closed.is_set():
            raise errors.PortUnavailable("kv: the etcd adapter is closed")
        client = self._clients.get(index)
        if client is None:
            host, port_ = self._endpoints[index]
            client = aetcd.Client(
                host=host, port=port_, timeout=self._settings.timeout, options=_GRPC_OPTIONS
            )
            self._clients[index] = client
        return client

    async def _call(self, op: Callable[[aetcd.Client], Awaitable[T]], *, read: bool = False) -> T:
        """Run ``op`` on the current endpoint; reads try every endpoint before giving up."""
        attempts = len(self._endpoints) if read else 1
        for attempt in range(attempts):
            index = self._current
            try:
                with _mapped(self._where(index)):
                    return await op(self._client(index))
            except errors.PortUnavailable:
                if self._current == index:
                    self._current = (index + 1) % len(self._endpoints)
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, key: str) -> port.KeyValue | None:
        found = await self._call(lambda c: c.get(key.encode()), read=True)
        return None if found is None else _to_kv(found)

    async def range(self, prefix: str) -> list[port.KeyValue]:
        start = prefix.encode() or b"\x00"
        found = await self._call(
            lambda c: c.get_range(start, _range_end(prefix.encode()), sort_order="ascend"), read=True
        )
        return [_to_kv(kv) for kv in found]

    async def revision(self) -> int:
        found = await self._call(lambda c: c.get_prefix(_REVISION_PROBE, keys_only=True), read=True)
        return found.header.revision

    # -- writes ----------------------------------------------------------------------------------

    async def put(self, key: str, value: bytes, *, lease: int = 0) -> int:
        done = await self._call(lambda c: c.put(key.encode(), value, lease=lease or None))
        return done.header.revision

    async def delete(self, key: str) -> bool:
        done = await self._call(lambda c: c.delete(key.encode()))
        return done is not None

    async def delete_prefix(self, prefix: str) -> int:
        start = prefix.encode() or b"\x00"
        done = await self._call(lambda c: c.delete_range(start, _range_end(prefix.encode())))
        return done.deleted

    async def compare_and_swap(
        self, key: str, value: bytes | None, *, expected_mod_revision: int, lease: int = 0
    ) -> bool:
        raw = key.encode()

        async def txn(c: aetcd.Client) -> bool:
            t = c.transactions
            # A missing key has version 0; mod == 0 would match it too, version reads clearer.
            compare = (
                t.version(raw) == 0 if expected_mod_revision == 0 else t.mod(raw) == expected_mod_revision
            )
            action = t.delete(raw) if value is None else t.put(raw, value, lease=lease or None)
            succeeded, _ = await c.transaction(compare=[compare], success=[action], failure=[])
            return bool(succeeded)

        return await self._call(txn)

    # -- leases ----------------------------------------------------------------------------------

    async def grant_lease(self, ttl: int) -> port.Lease:
        if ttl < 1:
            raise errors.BadRequest(f"kv: lease TTL must be >= 1 s, got {ttl}")
        granted = await self._call(lambda c: c.lease(ttl))
        return port.Lease(id=granted.id, ttl=granted.ttl)

    async def refresh_lease(self, lease_id: int) -> None:
        reply = await self._call(lambda c: c.refresh_lease(lease_id))
        if reply is None or reply.TTL <= 0:
            raise errors.NotFound(f"kv: lease {lease_id} not found or expired")

    async def revoke_lease(self, lease_id: int) -> None:
        with contextlib.suppress(errors.NotFound):
            await self._call(lambda c: c.revoke_lease(lease_id))

    # -- watch -----------------------------------------------------------------------------------

    async def watch_prefix(
        self, prefix: str, *, start_revision: int | None = None
    ) -> AsyncIterator[port.WatchEvent]:
        if start_revision is not None and start_revision < 1:
            raise errors.BadRequest(f"kv: start_revision must be >= 1, got {start_revision}")
        start = prefix.encode() or b"\x00"
        end = _range_end(prefix.encode())
        next_revision = start_revision
        backoff = _BACKOFF_START
        while not self._closed.is_set():
            try:
                if next_revision is None:
                    # Pinned now, so a reconnect before the first event still misses nothing.
                    next_revision = await self.revision() + 1
                async with contextlib.aclosing(self._watch_once(start, end, next_revision)) as events:
                    async for event in events:
                        next_revision = event.revision + 1
                        backoff = _BACKOFF_START
                        yield event
                if self._closed.is_set():
                    return
                reason = "the stream ended"  # etcd cancelled the watch; watch again
            except errors.PortUnavailable as e:
                reason = e.message
            logger.warning(
                "kv: watch of %r interrupted (%s); resuming at revision %s", prefix, reason, next_revision
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _watch_once(self, start: bytes, end: bytes, revision: int) -> AsyncIterator[port.WatchEvent]:
        """One aetcd watch stream; raises PortUnavailable when the connection breaks."""
        index = self._current
        where = self._where(index)
        with _mapped(where):
            watch = await self._client(index).watch(start, range_end=end, start_revision=revision)
        self._watches.add(watch)
        stream = aiter(watch)
        try:
            with _mapped(where):
                async for event in stream:
                    kind = "put" if event.kind == "PUT" else "delete"
                    yield port.WatchEvent(
                        type=kind,
                        key=event.kv.key.decode(),
                        value=event.kv.value if kind == "put" else b"",
                        revision=event.kv.mod_revision,
                    )
        except errors.PortUnavailable:
            if self._current == index:
                self._current = (index + 1) % len(self._endpoints)
            raise
        finally:
            await self._end_stream(watch, stream)

    async def _end_stream(self, watch: aetcd.Watch, stream: AsyncIterator[aetcd.Event]) -> None:
        """Cancel the watch and run aetcd's generators to their end.

        Left suspended, they would be finalised by the garbage collector in a task of their own,
        one that outlives the caller.
        """
        if watch in self._watches:
            self._watches.discard(watch)
            try:
                await watch.cancel()
            except aetcd.ClientError:
                return
        elif not self._closed.is_set():
            return  # the stream already failed
        # Cancelled (here or by close()): the stream ends at its next step.
        with contextlib.suppress(aetcd.ClientError):
            async for _ in stream:
                pass


def _grpc_tasks() -> set[asyncio.Task[object]]:
    """The running tasks that belong to grpc.aio's calls (found by their coroutine's origin)."""
    found = set()
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        origin = code.co_filename if code is not None else getattr(coro, "__qualname__", "")
        if "grpc" in origin or origin.startswith("_AioCall."):
            found.add(task)
    return found


@contextlib.contextmanager
def _mapped(where: str) -> Iterator[None]:
    """Turn aetcd's errors into bcs errors (the one place they are mapped)."""
    try:
        yield
    except _CONNECTION_ERRORS as e:
        raise errors.PortUnavailable(f"kv: etcd at {where} is unreachable ({type(e).__name__}: {e})") from e
    except aetcd.RevisionCompactedError as e:
        raise port.RevisionCompacted(
            f"kv: etcd at {where} compacted the requested revisions; oldest kept: {e.compacted_revision}",
            compact_revision=e.compacted_revision,
        ) from e
    except aetcd.InvalidArgumentError as e:
        raise errors.BadRequest(f"kv: etcd at {where} rejected the request: {e}") from e
    except aetcd.ClientError as e:
        if "not found" in str(e):  # gRPC NOT_FOUND is left unmapped by aetcd: lease not found
            raise errors.NotFound(f"kv: etcd at {where}: {e}") from e
        raise errors.PortUnavailable(f"kv: etcd at {where} failed: {e}") from e
