"""A list/watch cache of one resource (client-go's reflector + indexer + informer, in one class).

:class:`Informer` lists the resource (paged), then watches from the list's resourceVersion, resuming
each watch from the last seen resourceVersion (bookmarks included). A 410 Expired answer makes it
relist; the relist is diffed against the cache so handlers see the ADDED/MODIFIED/DELETED events they
missed. Other failures are retried with exponential backoff. The cache maps ``namespace/name`` (or
``name`` for cluster-scoped objects) to the latest object as a plain dict.

Handlers are called as ``handler(event_type, obj, old)`` with ``event_type`` one of ``ADDED``,
``MODIFIED``, ``DELETED``; they should be cheap (typically: put the key on a work queue) and may return
an awaitable, which is awaited before the next event.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bcs import errors
from bcs.plugins.k8s.kube import client

__all__ = ["Handler", "Informer", "key_of", "ADDED", "MODIFIED", "DELETED"]

logger = logging.getLogger(__name__)
YIELD_EVERY = 64  # watch events handled between two yields to the event loop

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

Handler = Callable[[str, dict[str, Any], dict[str, Any] | None], Awaitable[None] | None]


def key_of(obj: dict[str, Any]) -> str:
    """``namespace/name`` of a namespaced object, ``name`` of a cluster-scoped one."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Informer:
    """Keeps :attr:`cache` in step with the cluster and tells handlers about every change.

    Run :meth:`run` as a background task and cancel it to stop. ``watch_timeout`` (seconds) bounds one
    watch request; ``resync`` (seconds, 0 = never) re-delivers every cached object as MODIFIED.
    """

    def __init__(
        self,
        kube: client.KubeClient,
        resource: client.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        watch_timeout: int = 300,
        resync: float = 0.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.namespace = namespace
        self.selectors = {"labelSelector": label_selector, "fieldSelector": field_selector}
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.resync = resync
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.cache: dict[str, dict[str, Any]] = {}
        self.resource_version = ""  # last resourceVersion seen (list, event or bookmark)
        self.relists = 0  # how many times the cache was (re)built from a list
        self.failures = 0  # list/watch attempts that failed (other than 410)
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()

    # -- reading the cache -------------------------------------------------------------------
    def get(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def items(self) -> list[dict[str, Any]]:
        return list(self.cache.values())

    @property
    def synced(self) -> bool:
        """True once the first list has been loaded into the cache."""
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def add_handler(self, handler: Handler) -> None:
        """Register ``handler``; objects already cached are not replayed (add handlers before run)."""
        self._handlers.append(handler)

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        """List, then watch forever; relist on 410, back off on other errors. Cancel to stop."""
        delay = self.backoff_initial
        # Restarted after a cancel, an informer resumes its watch (and relists only if that expired).
        need_list = not (self.synced and self.resource_version)
        resync_task = None
        if self.resync > 0:
            resync_task = asyncio.create_task(self._resync_loop(), name=f"resync {self.resource.plural}")
        try:
            while True:
                try:
                    if need_list:
                        await self._relist()
                        need_list = False
                    await self._watch_once()
                    delay = self.backoff_initial  # a watch that ended normally resets the backoff
                except client.Expired:
                    logger.info(
                        "watch %s expired at %s: relisting", self.resource.plural, self.resource_version
                    )
                    need_list = True
                except (errors.BcsError, ValueError) as e:
                    self.failures += 1
                    logger.warning(
                        "list/watch %s failed (%s); retrying in %.1fs", self.resource.plural, e, delay
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.backoff_max)
                    need_list = need_list or not self.resource_version
        finally:
            if resync_task is not None:
                resync_task.cancel()
                await asyncio.gather(resync_task, return_exceptions=True)

    async def _relist(self) -> None:
        fresh: dict[str, dict[str, Any]] = {}
        cont = None
        while True:
            page = await self.kube.list(
                self.resource, self.namespace, limit=self.page_size, **{"continue": cont}, **self.selectors
            )
            for obj in page.get("items") or []:
                obj.setdefault("apiVersion", self.resource.api_version)
                obj.setdefault("kind", self.resource.kind)
                fresh[key_of(obj)] = obj
            meta = page.get("metadata") or {}
            cont = meta.get("continue")
            if not cont:
                break
        self.resource_version = meta.get("resourceVersion") or ""
        self.relists += 1
        old_cache, self.cache = self.cache, fresh
        for key, old in old_cache.items():
            if key not in fresh:
                await self._emit(DELETED, old, None)
        for key, obj in fresh.items():
            old = old_cache.get(key)
            if old is None:
                await self._emit(ADDED, obj, None)
            elif _rv(old) != _rv(obj):
                await self._emit(MODIFIED, obj, old)
        self._synced.set()

    async def _watch_once(self) -> None:
        stream = self.kube.watch(
            self.resource,
            self.namespace,
            resource_version=self.resource_version,
            timeout_seconds=self.watch_timeout,
            **self.selectors,
        )
        seen = 0
        async for event in stream:
            seen += 1
            if seen % YIELD_EVERY == 0:
                # A burst arrives without the stream ever suspending: let the writers run too.
                await asyncio.sleep(0)
            kind, obj = event.get("type"), event.get("object") or {}
            rv = _rv(obj)
            if rv:
                self.resource_version = rv
            if kind == "BOOKMARK":
                continue
            if not self._ours(obj):
                # Never from a real API server; seen from a simulator replaying other kinds' history.
                logger.warning("watch %s delivered a %s: ignored", self.resource.plural, obj.get("kind"))
                continue
            key = key_of(obj)
            old = self.cache.get(key)
            if kind == DELETED:
                self.cache.pop(key, None)
                await self._emit(DELETED, obj, None)
            elif kind in (ADDED, MODIFIED):
                self.cache[key] = obj
                await self._emit(MODIFIED if old is not None else ADDED, obj, old)

    def _ours(self, obj: dict[str, Any]) -> bool:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and self.resource.kind and kind != self.resource.kind:
            return False
        return not (api_version and api_version != self.resource.api_version)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            for obj in list(self.cache.values()):
                await self._emit(MODIFIED, obj, obj)

    async def _emit(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for handler in self._handlers:
            try:
                result = handler(kind, obj, old)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                # A broken handler must not stop the cache from following the cluster.
                logger.exception("informer handler for %s failed on %s", self.resource.plural, key_of(obj))


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
