"""What the storage service stores: resources and their keys, collection names, and rendering.

Dynamic resources live in one collection per ``resourceType`` (as upstream), shared by all clusters.
The service's own collections start with ``_bcs`` so that no resourceType from a URL can reach them:
events, alarms, custom resources (``_bcs_custom.<type>``) and the outbox.

Stored times are aware UTC datetimes; :func:`render` turns them into RFC 3339 strings with
milliseconds (``2024-05-01T10:00:00.123Z``), which is how they leave the service (HTTP and watch).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from bcs import errors
from bcs.storage.store import conditions, port

__all__ = [
    "ALARMS",
    "CUSTOM_PREFIX",
    "EVENTS",
    "INTERNAL_PREFIX",
    "Resource",
    "check_resource_type",
    "custom_collection",
    "format_time",
    "key_of",
    "render",
]

INTERNAL_PREFIX = "_bcs"
EVENTS = "_bcs_events"
ALARMS = "_bcs_alarms"
CUSTOM_PREFIX = "_bcs_custom."


def check_resource_type(resource_type: str) -> str:
    """A resourceType usable as a collection name (BadRequest naming it otherwise)."""
    if not isinstance(resource_type, str) or resource_type.startswith(INTERNAL_PREFIX):
        raise errors.BadRequest(f"invalid resourceType {resource_type!r}")
    try:
        return port.check_collection(resource_type)
    except errors.BadRequest:
        raise errors.BadRequest(f"invalid resourceType {resource_type!r}") from None


def custom_collection(resource_type: str) -> str:
    """The collection of a custom resource type."""
    return CUSTOM_PREFIX + check_resource_type(resource_type)


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise errors.BadRequest(f"{what} must be a non-empty string, not {value!r}")
    return value


@attrs.frozen
class Resource:
    """One dynamic resource to write; ``namespace`` None for a cluster-scoped one.

    ``extra`` holds additional top-level fields stored beside ``data`` (the ``extra`` query parameter).
    """

    cluster_id: str
    resource_type: str
    name: str
    data: Mapping[str, Any]
    namespace: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        _name(self.cluster_id, "clusterId")
        check_resource_type(self.resource_type)
        _name(self.name, "resourceName")
        if self.namespace is not None:
            _name(self.namespace, "namespace")
        if not isinstance(self.data, Mapping):
            raise errors.BadRequest(f"data must be a JSON object, not {type(self.data).__name__}")
        # The store's own validation (reserved names, key shapes), before anything is written.
        port.set_fields(self.key(), self.data, self.extra)

    def key(self) -> dict[str, str]:
        """The feature fields naming this resource in its collection."""
        key = {"clusterId": self.cluster_id, "resourceType": self.resource_type, "resourceName": self.name}
        if self.namespace is not None:
            key["namespace"] = self.namespace
        return key


def key_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The feature fields of a stored document (its key)."""
    return {f: doc[f] for f in conditions.FEATURE_FIELDS if f in doc}


@functools.lru_cache(maxsize=1024)  # the changes of one write share their times
def format_time(value: datetime.datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as upstream's Go ``time.Time`` marshals."""
    value = value.astimezone(datetime.UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def render(doc: Mapping[str, Any], *, drop: Iterable[str] = ()) -> dict[str, Any]:
    """A stored document ready for JSON: top-level datetimes as strings, ``drop`` fields removed.

    Only top-level fields hold datetimes (``data`` comes from JSON), so the walk stays shallow.
    """
    dropped = set(drop)
    out = {}
    for k, v in doc.items():
        if k in dropped:
            continue
        out[k] = format_time(v) if isinstance(v, datetime.datetime) else v
    return out
