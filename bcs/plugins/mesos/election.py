"""Leader election on the KV port: the holder of ``<key>`` (written on a lease) is the leader.

Only the leader subscribes to the master and writes scheduler state (upstream elects through the
first entry under ``/bcs/services/endpoints/scheduler``; an etcd lease gives the same guarantee:
when the leader dies its key expires with the lease and another candidate takes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bcs import errors
from bcs.core import kv as kv_mod

__all__ = ["Election"]

logger = logging.getLogger(__name__)


class Election:
    def __init__(
        self,
        kv: kv_mod.KV,
        key: str,
        identity: str,
        *,
        ttl: int = 10,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
    ) -> None:
        self.kv = kv
        self.key = key
        self.identity = identity
        self.ttl = ttl
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.leader = False
        self._lease = 0

    async def run(self) -> None:
        """Campaign, lead while the lease lives, step down when it is lost; until cancelled."""
        try:
            while True:
                try:
                    if await self._campaign():
                        self.leader = True
                        await self.on_elected()
                        await self._hold()
                except errors.BcsError as e:
                    logger.info("election %s: %s", self.key, e)
                if self.leader:
                    self.leader = False
                    await self.on_deposed()
                await asyncio.sleep(self.ttl / 3)
        finally:
            await self._resign()

    async def _campaign(self) -> bool:
        lease = await self.kv.grant_lease(self.ttl)
        won = await self.kv.compare_and_swap(
            self.key, self.identity.encode(), expected_mod_revision=0, lease=lease.id
        )
        if won:
            self._lease = lease.id
            return True
        await self.kv.revoke_lease(lease.id)
        return False

    async def _hold(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            await self.kv.refresh_lease(self._lease)
            current = await self.kv.get(self.key)
            if current is None or current.value != self.identity.encode():
                raise errors.Conflict("leadership lost")

    async def _resign(self) -> None:
        if self._lease:
            with contextlib.suppress(errors.BcsError, asyncio.CancelledError):
                await self.kv.revoke_lease(self._lease)
            self._lease = 0
        if self.leader:
            self.leader = False
            with contextlib.suppress(Exception):
                await self.on_deposed()
