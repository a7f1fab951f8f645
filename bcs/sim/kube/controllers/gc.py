"""Garbage collector: deletes dependents whose owners are gone (background), deletes dependents of
owners being deleted in the foreground, and orphans dependents for ``propagationPolicy=Orphan``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from bcs.sim.kube import status, store
from bcs.sim.kube.controllers import base

__all__ = ["GarbageCollector"]


class GarbageCollector(base.Controller):
    name = "garbage-collector"
    watch_all = True

    def __init__(self, cl: Any) -> None:
        super().__init__(cl)
        self.uids: set[str] = set()
        for rt in self.reg.stored():
            for obj in self.cl.store.iter(rt):
                self.uids.add(obj.uid)

    def keys_for(self, ev: store.Event) -> Iterable[Any]:
        obj = ev.obj
        if ev.type == "DELETED":
            self.uids.discard(obj.uid)
            return (("dependents", obj.uid),) if obj.uid in self.cl.store.dependents else ()
        self.uids.add(obj.uid)
        keys: list[Any] = []
        if obj.owners and not all(u in self.uids for u in obj.owners):
            keys.append(("dangling", ev.key, obj.ns, obj.name))
        if b'"deletionTimestamp"' in obj.raw and (
            b'"foregroundDeletion"' in obj.raw or b'"orphan"' in obj.raw
        ):
            keys.append(("owner", ev.key, obj.ns, obj.name))
        return keys

    def _rt(self, key: str) -> Any:
        return self.reg.by_key(key)

    def _drop_refs(self, rt: Any, ns: str, name: str, uids: set[str]) -> None:
        def edit(o: dict[str, Any]) -> None:
            refs = [r for r in o["metadata"].get("ownerReferences") or [] if r.get("uid") not in uids]
            if refs:
                o["metadata"]["ownerReferences"] = refs
            else:
                o["metadata"].pop("ownerReferences", None)

        self.api.mutate(rt, ns, name, edit, sub="all")

    def _collect(self, rkey: str, ns: str, name: str, policy: str = "Background") -> None:
        rt = self._rt(rkey)
        obj = self.cl.store.get(rt, ns, name) if rt else None
        if obj is None:
            return
        live = {u for u in obj.owners if u in self.uids}
        if live:
            self._drop_refs(rt, ns, name, set(obj.owners) - live)
            return
        if b'"deletionTimestamp"' not in obj.raw or policy == "Foreground":
            with contextlib.suppress(status.ApiError):
                self.api.delete(rt, ns, name, {"propagationPolicy": policy})

    def reconcile(self, key: Any) -> None:
        if key[0] == "dependents":
            for rkey, ns, name in sorted(self.cl.store.dependents.get(key[1], ())):
                self._collect(rkey, ns, name)
            return
        if key[0] == "dangling":
            self._collect(key[1], key[2], key[3])
            return
        _, rkey, ns, name = key
        rt = self._rt(rkey)
        obj = self.cl.store.get(rt, ns, name) if rt else None
        if obj is None:
            return
        data = obj.decode()
        finalizers = data["metadata"].get("finalizers") or []
        deps = sorted(self.cl.store.dependents.get(obj.uid, ()))
        if "orphan" in finalizers:
            for drkey, dns, dname in deps:
                self._drop_refs(self._rt(drkey), dns, dname, {obj.uid})
            self._remove_finalizer(rt, ns, name, "orphan")
            return
        if "foregroundDeletion" in finalizers:
            for drkey, dns, dname in deps:
                drt = self._rt(drkey)
                dep = self.cl.store.get(drt, dns, dname) if drt else None
                if dep is not None and b'"deletionTimestamp"' not in dep.raw:
                    with contextlib.suppress(status.ApiError):
                        self.api.delete(drt, dns, dname, {"propagationPolicy": "Foreground"})
            if not self.cl.store.dependents.get(obj.uid):
                self._remove_finalizer(rt, ns, name, "foregroundDeletion")
            else:
                self.enqueue_later(key, 0.05)

    def _remove_finalizer(self, rt: Any, ns: str, name: str, finalizer: str) -> None:
        def edit(o: dict[str, Any]) -> None:
            o["metadata"]["finalizers"] = [f for f in o["metadata"].get("finalizers") or [] if f != finalizer]
            if not o["metadata"]["finalizers"]:
                del o["metadata"]["finalizers"]

        self.api.mutate(rt, ns, name, edit, sub="all")
