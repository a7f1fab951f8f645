"""The object store of one cluster: one resourceVersion counter, objects kept as encoded JSON.

Objects are held as compact ``orjson`` bytes plus the few fields selectors need, which keeps
per-object overhead small (150k pods fit in one process) and lets lists and watch events be written
out without re-encoding. Every write appends to a bounded event history (for watch resume) and is
handed to in-process listeners (controllers) and watchers synchronously, in resourceVersion order.
"""

from __future__ import annotations

import bisect
import collections
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from bcs.sim.kube import resources, selectors

__all__ = ["Event", "Obj", "Store", "dig", "field_value"]


def dig(obj: Any, path: str) -> Any:
    """The value at a dotted path (``spec.nodeName``), or None."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def field_value(value: Any) -> str:
    """How the apiserver renders a field for field selectors."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # events' "source" selects on source.component
        return str(value.get("component", ""))
    return str(value)


class Obj:
    """One stored object version: immutable once made (an update makes a new ``Obj``)."""

    __slots__ = ("fields", "labels", "name", "ns", "owners", "raw", "rv", "uid", "view")

    def __init__(self, raw: bytes, rv: int, data: dict[str, Any], rt: resources.ResourceType) -> None:
        meta = data["metadata"]
        self.raw = raw
        self.rv = rv
        self.ns: str = meta.get("namespace", "")
        self.name: str = meta["name"]
        self.uid: str = meta.get("uid", "")
        self.labels: dict[str, str] | None = meta.get("labels") or None
        self.fields: tuple[str, ...] = tuple(field_value(dig(data, p)) for p in rt.field_paths)
        owners = meta.get("ownerReferences")
        self.owners: tuple[str, ...] = tuple(o.get("uid", "") for o in owners) if owners else ()
        self.view: bytes | None = None  # the bytes as a view kind shows them (``views.raw``)

    def decode(self) -> dict[str, Any]:
        return orjson.loads(self.raw)

    def field(self, rt: resources.ResourceType, path: str) -> str | None:
        if path == "metadata.name":
            return self.name
        if path == "metadata.namespace":
            return self.ns
        try:
            return self.fields[rt.field_paths.index(path)]
        except ValueError:
            return None


class Event:
    """One change: ``type`` is ADDED, MODIFIED or DELETED; ``old`` is the previous version."""

    __slots__ = ("key", "obj", "old", "rt", "rv", "time", "type")

    def __init__(self, type_: str, rt: resources.ResourceType, obj: Obj, old: Obj | None) -> None:
        self.type = type_
        self.rt = rt
        self.key = rt.key
        self.obj = obj
        self.old = old
        self.rv = obj.rv
        self.time = time.monotonic()


Listener = Callable[[Event], None]


class _Keys:
    """One kind's (namespace, name) keys in order, kept current cheaply.

    Additions are merged in on the next read (one sort over two sorted runs, which is linear);
    removals stay in the list, skipped by readers that find no object, until they are half of it.
    A read never changes a list it handed out earlier.
    """

    __slots__ = ("added", "ordered", "stale")

    def __init__(self) -> None:
        self.ordered: list[tuple[str, str]] = []
        self.added: list[tuple[str, str]] = []
        self.stale: set[tuple[str, str]] = set()

    def add(self, key: tuple[str, str]) -> None:
        if key in self.stale:
            self.stale.discard(key)  # still in ``ordered``: valid again
        else:
            self.added.append(key)

    def remove(self, key: tuple[str, str]) -> None:
        self.stale.add(key)

    def get(self) -> list[tuple[str, str]]:
        if self.added:
            self.added.sort()
            self.ordered = sorted(self.ordered + self.added)
            self.added = []
        if self.stale and len(self.stale) * 2 > len(self.ordered):
            stale = self.stale
            self.ordered = [k for k in self.ordered if k not in stale]
            self.stale = set()
        return self.ordered


class Store:
    def __init__(self, *, history_window: float = 300.0, history_max: int = 100_000) -> None:
        self.rv = 1
        self._data: dict[str, dict[tuple[str, str], Obj]] = {}
        self._keys: dict[str, _Keys] = {}
        self.history: collections.deque[Event] = collections.deque()
        self.history_window = history_window
        self.history_max = history_max
        self.compacted_rv = 0  # events with rv <= this are no longer in history
        self.dependents: dict[str, set[tuple[str, str, str]]] = {}
        self._listeners: list[Listener] = []

    # -- reads -------------------------------------------------------------------------------
    def get(self, rt: resources.ResourceType, ns: str, name: str) -> Obj | None:
        table = self._data.get(rt.key)
        return table.get((ns if rt.namespaced else "", name)) if table else None

    def count(self, rt: resources.ResourceType | None = None) -> int:
        if rt is not None:
            return len(self._data.get(rt.key, ()))
        return sum(len(t) for t in self._data.values())

    def keys(self, rt: resources.ResourceType, ns: str | None = None) -> list[tuple[str, str]]:
        """Sorted (namespace, name) keys, optionally of one namespace only. Without a namespace the
        list may still hold keys of objects deleted since (look each one up)."""
        index = self._keys.get(rt.key)
        if index is None:
            return []
        keys = index.get()
        if ns is None or not rt.namespaced:
            return keys
        lo = bisect.bisect_left(keys, (ns, ""))
        hi = bisect.bisect_left(keys, (ns + "\0", ""))
        stale = index.stale
        return [k for k in keys[lo:hi] if k not in stale] if stale else keys[lo:hi]

    def iter(self, rt: resources.ResourceType, ns: str | None = None) -> Iterator[Obj]:
        table = self._data.get(rt.key, {})
        if ns is None or not rt.namespaced:
            yield from list(table.values())
            return
        for key in self.keys(rt, ns):
            obj = table.get(key)
            if obj is not None:
                yield obj

    def select(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        labels: tuple[selectors.Requirement, ...] = (),
        fields: tuple[selectors.Requirement, ...] = (),
        *,
        start_after: tuple[str, str] | None = None,
        limit: int = 0,
    ) -> tuple[list[Obj], tuple[str, str] | None, int]:
        """Matching objects in key order: (page, last key if more remain, remaining count)."""
        table = self._data.get(rt.key, {})
        keys = self.keys(rt, ns)
        first = bisect.bisect_right(keys, start_after) if start_after is not None else 0
        if not labels and not fields:
            whole = ns is None or not rt.namespaced  # the whole index: deleted keys may remain in it
            return self._page(rt, table, keys, first, limit, whole)
        if first:
            keys = keys[first:]
        out: list[Obj] = []
        remaining = 0
        last: tuple[str, str] | None = None
        for key in keys:
            obj = table.get(key)
            if obj is None or not obj_matches(rt, obj, labels, fields):
                continue
            if limit and len(out) >= limit:
                remaining += 1
                continue
            out.append(obj)
            last = key
        return out, (last if remaining else None), remaining

    def _page(
        self,
        rt: resources.ResourceType,
        table: dict[tuple[str, str], Obj],
        keys: list[tuple[str, str]],
        first: int,
        limit: int,
        whole: bool,
    ) -> tuple[list[Obj], tuple[str, str] | None, int]:
        """``select`` without selectors: no per-object test, and a page stops at its limit (the
        remaining count comes from the index, not from walking the rest)."""
        get = table.get
        if not limit:
            return [o for o in map(get, keys[first:] if first else keys) if o is not None], None, 0
        page: list[Obj] = []
        end = first
        for end in range(first, len(keys)):
            obj = get(keys[end])
            if obj is not None:
                page.append(obj)
                if len(page) == limit:
                    break
        else:
            return page, None, 0
        last = keys[end]
        index = self._keys.get(rt.key)
        stale = sum(1 for k in index.stale if k > last) if whole and index is not None else 0
        remaining = len(keys) - end - 1 - stale
        return page, (last if remaining > 0 else None), max(remaining, 0)

    # -- writes ------------------------------------------------------------------------------
    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, rt: resources.ResourceType, data: dict[str, Any]) -> Obj:
        """Store ``data`` under a new resourceVersion (written into it); ADDED or MODIFIED."""
        rv = self.next_rv()
        data["metadata"]["resourceVersion"] = str(rv)
        obj = Obj(orjson.dumps(data), rv, data, rt)
        table = self._data.setdefault(rt.key, {})
        key = (obj.ns, obj.name)
        old = table.get(key)
        table[key] = obj
        if old is None:
            self._keys.setdefault(rt.key, _Keys()).add(key)
        else:
            self._unindex(rt, old)
        self._index(rt, obj)
        self._emit(Event("MODIFIED" if old else "ADDED", rt, obj, old))
        return obj

    def remove(self, rt: resources.ResourceType, ns: str, name: str, data: dict[str, Any]) -> Obj:
        """Delete; the DELETED event carries ``data`` stamped with the deletion's resourceVersion."""
        table = self._data[rt.key]
        key = (ns if rt.namespaced else "", name)
        old = table.pop(key)
        self._keys[rt.key].remove(key)
        self._unindex(rt, old)
        rv = self.next_rv()
        data["metadata"]["resourceVersion"] = str(rv)
        obj = Obj(orjson.dumps(data), rv, data, rt)
        self._emit(Event("DELETED", rt, obj, old))
        return obj

    def _index(self, rt: resources.ResourceType, obj: Obj) -> None:
        for uid in obj.owners:
            self.dependents.setdefault(uid, set()).add((rt.key, obj.ns, obj.name))

    def _unindex(self, rt: resources.ResourceType, obj: Obj) -> None:
        for uid in obj.owners:
            deps = self.dependents.get(uid)
            if deps is not None:
                deps.discard((rt.key, obj.ns, obj.name))
                if not deps:
                    del self.dependents[uid]

    def rewrite(self, rt: resources.ResourceType, fn: Callable[[dict[str, Any]], bool]) -> int:
        """Re-render stored objects in place (same resourceVersion, no events) where ``fn`` changes
        them: what a real apiserver shows when it defaults objects as it reads them."""
        table = self._data.get(rt.key) or {}
        n = 0
        for key, obj in list(table.items()):
            data = obj.decode()
            if not fn(data):
                continue
            new = Obj(orjson.dumps(data), obj.rv, data, rt)
            self._unindex(rt, obj)
            table[key] = new
            self._index(rt, new)
            n += 1
        return n

    def drop_kind(self, rt: resources.ResourceType) -> None:
        """Forget every object of a kind whose CRD went away (no events, like etcd prefix delete)."""
        for obj in self._data.pop(rt.key, {}).values():
            self._unindex(rt, obj)
        self._keys.pop(rt.key, None)

    # -- events ------------------------------------------------------------------------------
    def add_listener(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _emit(self, event: Event) -> None:
        hist = self.history
        hist.append(event)
        horizon = event.time - self.history_window
        while hist and (hist[0].time < horizon or len(hist) > self.history_max):
            self.compacted_rv = hist.popleft().rv
        for fn in list(self._listeners):
            fn(event)

    def events_after(self, rv: int) -> Iterable[Event]:
        """History events newer than ``rv`` (the caller checks ``rv >= compacted_rv`` first)."""
        hist = self.history
        if not hist or hist[-1].rv <= rv:
            return ()
        # Binary search over the deque by rv (rvs are increasing).
        lo, hi = 0, len(hist)
        while lo < hi:
            mid = (lo + hi) // 2
            if hist[mid].rv <= rv:
                lo = mid + 1
            else:
                hi = mid
        return [hist[i] for i in range(lo, len(hist))]


def obj_matches(
    rt: resources.ResourceType,
    obj: Obj,
    labels: tuple[selectors.Requirement, ...],
    fields: tuple[selectors.Requirement, ...],
) -> bool:
    if labels and not selectors.matches(labels, obj.labels):
        return False
    if fields:
        values = {key: obj.field(rt, key) or "" for key, _, _ in fields}
        if not selectors.matches(fields, values):
            return False
    return True
