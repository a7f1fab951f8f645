"""Objects as storage keeps them: copies without ``managedFields``, masked, Pods annotated with their
workload, Events in the storage event shape, and the node-heartbeat test.

Everything here is pure: the cache's objects are never modified (the informer shares them).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from bcs.plugins.k8s.datawatch import settings as settings_mod

__all__ = [
    "PENDING",
    "WORKLOAD_KIND",
    "WORKLOAD_NAME",
    "Shaper",
    "event_record",
    "event_time",
    "fingerprint",
    "heartbeat_only",
    "join_key",
    "names",
    "pod_workload",
    "rv_of",
    "split_key",
]

WORKLOAD_KIND = "workload.bkbcs.tencent.com/kind"
WORKLOAD_NAME = "workload.bkbcs.tencent.com/name"
PENDING = ("", "")  # the owner is not known yet: try again shortly
# A Pod's direct owner of these kinds is resolved one level up, when that parent kind owns it.
_PARENTS = {"ReplicaSet": "Deployment", "Job": "CronJob"}

# lookup(kind, namespace, name) -> (is that kind watched?, the cached object or None)
Lookup = Callable[[str, str, str], tuple[bool, Mapping[str, Any] | None]]


def _copy(obj: Mapping[str, Any]) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(obj))


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _controller(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, Mapping)]
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if refs else None


def pod_workload(pod: Mapping[str, Any], lookup: Lookup) -> tuple[str, str] | None:
    """The workload owning ``pod`` as ``(kind, name)``; None for a bare Pod, :data:`PENDING` when the
    owning ReplicaSet/Job is watched but not cached yet (it is usually a moment behind its Pods)."""
    meta = pod.get("metadata") or {}
    ref = _controller(meta)
    if ref is None or not ref.get("kind") or not ref.get("name"):
        return None
    kind, name = str(ref["kind"]), str(ref["name"])
    parent_kind = _PARENTS.get(kind)
    if parent_kind is None:
        return kind, name
    watched, owner = lookup(kind, meta.get("namespace") or "", name)
    if not watched:
        return kind, name
    if owner is None:
        return PENDING
    parent = _controller(owner.get("metadata") or {})
    if parent is not None and parent.get("kind") == parent_kind and parent.get("name"):
        return parent_kind, str(parent["name"])
    return kind, name


def _blank(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {}
    if isinstance(value, list):
        return []
    return ""


def _mask(obj: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = obj
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict) and leaf in node:
        node[leaf] = _blank(node[leaf])


class Shaper:
    """Turns a cached object into the ``data`` storage keeps (settings applied once, here)."""

    def __init__(self, s: settings_mod.DataWatchSettings) -> None:
        self.strip = s.strip_managed_fields
        self.extra_labels = dict(s.extra_labels)
        self.masks: dict[str, list[settings_mod.MaskRule]] = {}
        for rule in s.masks:
            self.masks.setdefault(rule.kind, []).append(rule)

    def shape(
        self, kind: str, obj: Mapping[str, Any], *, workload: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        masks = [r for r in self.masks.get(kind, ()) if not r.namespace or r.namespace == _namespace(obj)]
        # A new top level and metadata (all that changes here); deep only when a mask cuts deeper.
        data = _copy(obj) if masks else {**obj, "metadata": {**(obj.get("metadata") or {})}}
        meta = data["metadata"]
        if self.strip:
            meta.pop("managedFields", None)
        if self.extra_labels:
            meta["labels"] = {**(meta.get("labels") or {}), **self.extra_labels}
        if workload is not None:
            meta["annotations"] = {
                **(meta.get("annotations") or {}),
                WORKLOAD_KIND: workload[0],
                WORKLOAD_NAME: workload[1],
            }
        for rule in masks:
            for path in rule.paths:
                _mask(data, path)
        return data


def _without_heartbeats(node: Mapping[str, Any]) -> dict[str, Any]:
    out = _copy(node)
    meta = out.get("metadata") or {}
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    for cond in (out.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict):
            cond.pop("lastHeartbeatTime", None)
    return out


def heartbeat_only(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether a Node update changed nothing but heartbeat times (and the resourceVersion)."""
    return old is not None and _without_heartbeats(old) == _without_heartbeats(new)


def fingerprint(obj: Mapping[str, Any]) -> bytes:
    """A digest of ``obj`` that ignores what :func:`heartbeat_only` ignores."""
    raw = orjson.dumps(_without_heartbeats(obj), option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(raw, digest_size=16).digest()


def _unix(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def event_time(event: Mapping[str, Any]) -> float | None:
    """Upstream's event time: lastTimestamp, else firstTimestamp, eventTime, creationTimestamp."""
    meta = event.get("metadata") or {}
    for value in (
        event.get("lastTimestamp"),
        event.get("firstTimestamp"),
        event.get("eventTime"),
        meta.get("creationTimestamp"),
    ):
        when = _unix(value)
        if when is not None:
            return when
    return None


def event_record(cluster_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The storage event (upstream ``BcsStorageEventIf``) of a shaped core/v1 Event."""
    involved = data.get("involvedObject") or {}
    meta = data.get("metadata") or {}
    record: dict[str, Any] = {
        "id": str(meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}"),
        "env": "k8s",
        "kind": str(involved.get("kind") or ""),
        "level": str(data.get("type") or ""),
        "component": str((data.get("source") or {}).get("component") or ""),
        "type": str(data.get("reason") or ""),
        "describe": str(data.get("message") or ""),
        "clusterId": cluster_id,
        "extraInfo": {
            "namespace": str(involved.get("namespace") or ""),
            "name": str(involved.get("name") or ""),
            "kind": str(involved.get("kind") or ""),
        },
        "data": dict(data),
    }
    when = event_time(data)
    if when is not None:
        record["eventTime"] = int(when)
    return record


def rv_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def names(obj: Mapping[str, Any]) -> tuple[str, str]:
    """``(namespace, name)``; namespace ``""`` for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def split_key(key: str) -> tuple[str, str]:
    """An informer key (``ns/name`` or ``name``) as ``(namespace, name)``."""
    ns, _, name = key.rpartition("/")
    return ns, name


def join_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name
