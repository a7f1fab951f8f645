"""Which kinds are watched and which objects are stored (spec/bkbcs.md §4.1, upstream ``filter.json``).

Kinds: a resource is watched when its group-version is in ``group_versions`` or it is a listed custom
resource (``crds``), it can be listed and watched, it is not an exception, and (when ``only`` is set)
it matches ``only``. Namespace is never excluded; ComponentStatus and Binding never watched; of
``storage.k8s.io`` only StorageClass. One Kind is watched once: the first group-version serving it
wins (preferred versions come first), except that ``extensions`` gives way to any other group.

Objects: those in ``namespace_filters`` or named in ``name_filters`` are skipped, except Events,
which are kept in a filtered namespace when their name starts with a ``system_event_prefixes``
entry (upstream keeps ``kube-system`` events of kube-, kubedns-, nginx-proxy and bcs- objects).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from bcs.plugins.k8s.datawatch import discovery
from bcs.plugins.k8s.datawatch import settings as settings_mod

__all__ = ["ObjectFilter", "kind_matches", "select_resources"]

NEVER = frozenset({"ComponentStatus", "Binding"})
ALWAYS = "Namespace"
EXTENSIONS = "extensions"


def kind_matches(patterns: Iterable[str], res: discovery.ApiResource) -> bool:
    """Whether ``res`` matches one of the ``"groupVersion:Kind"`` patterns."""
    for pattern in patterns:
        gv, _, kind = pattern.rpartition(":")
        if fnmatch.fnmatchcase(res.group_version, gv) and fnmatch.fnmatchcase(res.kind, kind):
            return True
    return False


def _group_version_listed(patterns: Iterable[str], res: discovery.ApiResource) -> bool:
    return any(fnmatch.fnmatchcase(res.group_version, p) for p in patterns)


def _crd_listed(entries: Iterable[str], res: discovery.ApiResource) -> bool:
    names = {res.group, res.group_version, f"{res.plural}.{res.group}"}
    return bool(res.group) and any(e in names for e in entries)


def _allowed(res: discovery.ApiResource, s: settings_mod.DataWatchSettings) -> bool:
    if res.subresource or res.kind in NEVER or not {"list", "watch"} <= set(res.verbs):
        return False
    if res.group == "storage.k8s.io" and res.kind != "StorageClass":
        return False
    if not (_group_version_listed(s.group_versions, res) or _crd_listed(s.crds, res)):
        return False
    if res.kind == ALWAYS:
        return True
    if kind_matches(s.exceptions, res):
        return False
    return not s.only or kind_matches(s.only, res)


def select_resources(
    resources: Iterable[discovery.ApiResource], s: settings_mod.DataWatchSettings
) -> list[discovery.ApiResource]:
    """The resources to watch, one per Kind, in discovery order."""
    chosen: dict[str, discovery.ApiResource] = {}
    for res in resources:
        if not _allowed(res, s):
            continue
        current = chosen.get(res.kind)
        if current is None or (current.group == EXTENSIONS and res.group != EXTENSIONS):
            chosen[res.kind] = res
    return list(chosen.values())


class ObjectFilter:
    """Decides, per object, whether it is stored at all."""

    def __init__(self, s: settings_mod.DataWatchSettings) -> None:
        self.namespaces = frozenset(s.namespace_filters)
        self.names = frozenset(s.name_filters)
        self.event_prefixes = tuple(s.system_event_prefixes)

    def keep(self, kind: str, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace") or "", str(meta.get("name") or "")
        if kind == "Event":
            return namespace not in self.namespaces or name.startswith(self.event_prefixes)
        return namespace not in self.namespaces and name not in self.names
