"""The Event recorder controllers share: core/v1 Events, de-duplicated and bounded."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from bcs.sim.kube import api as api_mod
from bcs.sim.kube import resources, status

if TYPE_CHECKING:
    from bcs.sim.kube import cluster as cluster_mod

__all__ = ["Recorder"]


class Recorder:
    def __init__(self, cl: cluster_mod.Cluster, *, max_events: int = 5000) -> None:
        self.cl = cl
        self.rt = cl.registry.builtin("", "events")
        self.max_events = max_events
        self._order: collections.deque[tuple[str, str]] = collections.deque()
        self._seen: dict[tuple[str, str, str], str] = {}
        self._n = 0

    def record(
        self,
        obj: dict[str, Any],
        rt: resources.ResourceType,
        reason: str,
        message: str,
        *,
        component: str,
        type_: str = "Normal",
        host: str = "",
        field_path: str = "",
    ) -> None:
        if not self.cl.events_enabled:
            return
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), reason, message)
        now = api_mod.now_iso()
        existing = self._seen.get(key)
        if existing and self.cl.api.find(self.rt, ns, existing) is not None:

            def bump(ev: dict[str, Any]) -> None:
                ev["count"] = int(ev.get("count", 1)) + 1
                ev["lastTimestamp"] = now

            self.cl.api.mutate(self.rt, ns, existing, bump)
            return
        self._n += 1
        name = f"{meta['name']}.{self._n:x}{self.cl.api.random_suffix(6)}"
        involved = {
            "kind": rt.kind,
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "apiVersion": rt.api_version,
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if field_path:
            involved["fieldPath"] = field_path
        source = {"component": component, **({"host": host} if host else {})}
        event = {
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        try:
            self.cl.api.create(self.rt, ns, event)
        except status.ApiError:
            return  # e.g. the namespace is terminating
        self._seen[key] = name
        self._order.append((ns, name))
        while len(self._order) > self.max_events:
            old_ns, old_name = self._order.popleft()
            if self.cl.api.find(self.rt, old_ns, old_name) is not None:
                self.cl.api.delete(self.rt, old_ns, old_name)
        if len(self._seen) > 4 * self.max_events:
            self._seen.clear()
