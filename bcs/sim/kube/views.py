"""Kinds served as another kind's storage in a different shape: events.k8s.io/v1 Events.

A real apiserver keeps one Event storage and converts between core/v1 and events.k8s.io/v1 on the
way in and out, so an Event written through either group is read, listed and watched through both.
Here objects are stored in the core/v1 shape; ``to_view``/``from_view`` convert (the field renames of
the upstream conversion: ``message``/``note``, ``involvedObject``/``regarding``, ``source``/
``deprecatedSource``, ``firstTimestamp``/``deprecatedFirstTimestamp``, ``lastTimestamp``/
``deprecatedLastTimestamp``, ``count``/``deprecatedCount``, ``reportingComponent``/
``reportingController``), ``raw`` caches a stored object's converted bytes, and ``fields`` maps the
view's field selector labels onto the stored kind's.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from bcs.sim.kube import kinds, resources, selectors, status, store

__all__ = ["fields", "from_view", "raw", "to_view", "validate"]

# core/v1 name -> events.k8s.io/v1 name; fields not listed keep their name.
_RENAMES = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_BACK = {v: k for k, v in _RENAMES.items()}
_LABELS = {
    **{
        f"regarding.{k}": f"involvedObject.{k}"
        for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reportingController": "reportingComponent",
}
# Fields an update through events.k8s.io/v1 may not change (stored names).
_IMMUTABLE = (
    *("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count"),
    *("type", "eventTime", "action", "related", "reportingComponent", "reportingInstance"),
)
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def to_view(rt: resources.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The stored (core/v1) object as ``rt`` shows it (unchanged when ``rt`` is no view)."""
    if not rt.is_view:
        return obj
    out: dict[str, Any] = {"kind": rt.kind, "apiVersion": rt.api_version}
    for key, value in obj.items():
        if key not in ("kind", "apiVersion"):
            out[_RENAMES.get(key, key)] = value
    return out


def from_view(
    rt: resources.ResourceType, obj: dict[str, Any], storage: resources.ResourceType
) -> dict[str, Any]:
    """A view-shaped object in the stored kind's shape."""
    if not rt.is_view:
        return obj
    out: dict[str, Any] = {"kind": storage.kind, "apiVersion": storage.api_version}
    for key, value in obj.items():
        if key not in ("kind", "apiVersion"):
            out[_BACK.get(key, key)] = value
    return out


def raw(rt: resources.ResourceType, obj: store.Obj) -> bytes:
    """A stored object's JSON bytes as ``rt`` shows it (converted once per stored version)."""
    if not rt.is_view:
        return obj.raw
    if obj.view is None:
        obj.view = orjson.dumps(to_view(rt, obj.decode()))
    return obj.view


def fields(rt: resources.ResourceType, reqs: tuple[selectors.Requirement, ...]) -> tuple[Any, ...]:
    """Field selector requirements in the stored kind's labels."""
    if not rt.is_view:
        return reqs
    return tuple((_LABELS.get(key, key), op, values) for key, op, values in reqs)


def _required(field: str) -> kinds.Cause:
    return ("FieldValueRequired", field, "Required value")


def validate(rt: resources.ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """The stricter rules Events written through events.k8s.io/v1 obey (422 on failure).

    ``obj`` and ``old`` are in the stored shape; causes name the stored (internal) fields, as the
    apiserver's messages do.
    """
    if not rt.is_view:
        return
    causes: list[kinds.Cause] = []
    if old is None:
        if not obj.get("eventTime"):
            causes.append(_required("eventTime"))
        if obj.get("type") not in ("Normal", "Warning"):
            causes.append(
                ("FieldValueInvalid", "type", f'Invalid value: "": has invalid value: {obj.get("type", "")}')
            )
        for key in ("firstTimestamp", "lastTimestamp", "count"):
            if obj.get(key):
                causes.append(("FieldValueInvalid", key, 'Invalid value: "": needs to be unset'))
        if any((obj.get("source") or {}).values()):
            causes.append(("FieldValueInvalid", "source", 'Invalid value: "": needs to be unset'))
        series = obj.get("series")
        if isinstance(series, dict):
            if int(series.get("count") or 0) < 2:
                causes.append(
                    ("FieldValueInvalid", "series.count", 'Invalid value: "": should be at least 2')
                )
            if not series.get("lastObservedTime"):
                causes.append(_required("series.lastObservedTime"))
    else:
        for key in _IMMUTABLE:
            if obj.get(key) != old.get(key):
                causes.append(("FieldValueInvalid", key, "Invalid value: field is immutable"))
    if obj.get("eventTime"):
        controller = str(obj.get("reportingComponent") or "")
        if not controller:
            causes.append(_required("reportingController"))
        elif not _QUALIFIED.match(controller.rpartition("/")[2]):
            causes.append(
                (
                    "FieldValueInvalid",
                    "reportingController",
                    f'Invalid value: "{controller}": name part must consist of alphanumeric characters, '
                    "'-', '_' or '.', and must start and end with an alphanumeric character",
                )
            )
        for key in ("reportingInstance", "action", "reason"):
            value = str(obj.get(key) or "")
            if not value:
                causes.append(_required(key))
            elif len(value) > 128:
                causes.append(
                    ("FieldValueInvalid", key, 'Invalid value: "": can have at most 128 characters')
                )
        if len(str(obj.get("message") or "")) > 1024:
            causes.append(
                ("FieldValueInvalid", "message", 'Invalid value: "": can have at most 1024 characters')
            )
    if causes:
        raise status.invalid(rt.kind, rt.group, (obj.get("metadata") or {}).get("name", ""), causes)
