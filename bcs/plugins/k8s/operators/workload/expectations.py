"""Expectations: what this controller just asked of the API and has not yet seen in its caches.

A reconcile that acted on a stale cache could create or delete twice; so every create, delete and
update of a pod is recorded here, and a workload is not managed again until the pod cache shows each
one (or ``timeout`` seconds passed: the watch may have missed it, and a relist fixes the cache).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["Expectations", "CREATE", "DELETE", "UPDATE"]

CREATE, DELETE, UPDATE = "create", "delete", "update"

Lookup = Callable[[str], dict[str, Any] | None]


def _rv_at_least(obj: dict[str, Any] | None, rv: str) -> bool:
    if obj is None:
        return True
    seen = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    try:
        return int(seen) >= int(rv)
    except ValueError:  # opaque versions: any other version than the one before our write
        return seen == rv


@attrs.define
class _Pending:
    kind: str
    name: str
    rv: str
    since: float


class Expectations:
    """Per workload key: pending pod operations, checked against a pod lookup by name."""

    def __init__(self, *, timeout: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.clock = clock
        self._pending: dict[str, list[_Pending]] = {}

    def expect(self, key: str, kind: str, name: str, rv: str = "") -> None:
        """Record that pod ``name`` was created / deleted / updated (to resourceVersion ``rv``)."""
        self._pending.setdefault(key, []).append(_Pending(kind, name, rv, self.clock()))

    def satisfied(self, key: str, lookup: Lookup) -> bool:
        """Drop what the cache now shows; True when nothing is left pending for ``key``."""
        now = self.clock()
        left = [
            p
            for p in self._pending.get(key, [])
            if not self._seen(p, lookup) and now - p.since < self.timeout
        ]
        if left:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)
        return not left

    def cancel(self, key: str, kind: str, name: str) -> None:
        """Drop the expectation of ``kind`` on ``name`` (its write failed: it will never be seen)."""
        left = [p for p in self._pending.get(key, []) if not (p.kind == kind and p.name == name)]
        if left:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)

    def pending(self, key: str) -> int:
        return len(self._pending.get(key, []))

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)

    @staticmethod
    def _seen(p: _Pending, lookup: Lookup) -> bool:
        pod = lookup(p.name)
        if p.kind == CREATE:
            return pod is not None
        if p.kind == DELETE:
            return pod is None or bool((pod.get("metadata") or {}).get("deletionTimestamp"))
        return _rv_at_least(pod, p.rv)
