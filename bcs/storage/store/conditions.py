"""Conditions and queries on stored documents, as a small tree of frozen values.

Each adapter compiles the tree itself (a Mongo filter, or SQL over JSON1), so both share one meaning:
Mongo's. A path is a tuple of keys into the stored document; a string is split on ``.``, so keys
that contain dots (label keys such as ``app.kubernetes.io/name``) must be given as tuples.

Values compared are scalars: ``str``, ``int``, ``float``, ``bool``, ``None`` or an aware
``datetime``. Comparisons never cross types (``1`` does not match ``True`` nor ``"1"``; ints and
floats compare as numbers). ``Eq(path, None)`` matches a missing field or a null, as in Mongo.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

__all__ = [
    "And",
    "Condition",
    "Eq",
    "Exists",
    "FEATURE_FIELDS",
    "In",
    "Ne",
    "NotIn",
    "Or",
    "Path",
    "Query",
    "Range",
    "Scalar",
    "dotted",
    "key_match",
    "keys_match",
    "to_path",
]

Path: TypeAlias = tuple[str, ...]
Scalar: TypeAlias = "str | int | float | bool | datetime.datetime | None"

# The fields that name one resource (upstream "feature" fields); `namespace` is absent for
# cluster-scoped resources.
FEATURE_FIELDS: tuple[str, ...] = ("clusterId", "namespace", "resourceType", "resourceName")
_SCALARS = (str, int, float, bool, type(None), datetime.datetime)


def to_path(value: str | Sequence[str]) -> Path:
    """``"data.metadata.name"`` or ``("data", "metadata", "name")`` as a path tuple."""
    if isinstance(value, str):
        parts = tuple(value.split("."))
        if "" in parts:
            raise ValueError(f"invalid document path {value!r}: empty key")
        return parts
    parts = tuple(value)
    if not parts or not all(isinstance(p, str) for p in parts):
        raise ValueError(f"invalid document path {value!r}")
    return parts


def dotted(path: Path) -> str:
    """The path written with dots (lossy when a key itself contains a dot)."""
    return ".".join(path)


def _check_scalar(value: object) -> None:
    if not isinstance(value, _SCALARS):
        raise TypeError(f"conditions compare scalars, not {type(value).__name__}: {value!r}")
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: use an aware (UTC) datetime")


def _scalar(_inst: object, _attr: object, value: object) -> None:
    _check_scalar(value)


def _scalars(_inst: object, _attr: object, values: tuple[object, ...]) -> None:
    for v in values:
        _check_scalar(v)


@attrs.frozen
class Eq:
    """The field equals ``value``; when the field is an array, any element equal to it matches."""

    path: Path = attrs.field(converter=to_path)
    value: Scalar = attrs.field(validator=_scalar)


@attrs.frozen
class Ne:
    """Not :class:`Eq`: matches documents where the field is missing, too."""

    path: Path = attrs.field(converter=to_path)
    value: Scalar = attrs.field(validator=_scalar)


@attrs.frozen
class In:
    """The field equals one of ``values`` (array fields: any element). Empty ``values``: nothing."""

    path: Path = attrs.field(converter=to_path)
    values: tuple[Scalar, ...] = attrs.field(converter=tuple, validator=_scalars)


@attrs.frozen
class NotIn:
    """Not :class:`In`: matches documents where the field is missing, too."""

    path: Path = attrs.field(converter=to_path)
    values: tuple[Scalar, ...] = attrs.field(converter=tuple, validator=_scalars)


@attrs.frozen
class Exists:
    """The field is present (even if null) when ``present``, else absent."""

    path: Path = attrs.field(converter=to_path)
    present: bool = True


def _kind(value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"a range bound must be a number, string or datetime, not {value!r}")
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime.datetime):
        _check_scalar(value)
        return "datetime"
    raise TypeError(f"a range bound must be a number, string or datetime, not {value!r}")


@attrs.frozen
class Range:
    """Bounds on a number, string or datetime field; fields of another type never match.

    All bounds must be of one kind. Range on array fields is not part of the contract (Mongo
    checks elements, SQLite does not).
    """

    path: Path = attrs.field(converter=to_path)
    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None

    def __attrs_post_init__(self) -> None:
        kinds = {_kind(b) for b in self.bounds().values()}
        if not kinds:
            raise ValueError("Range needs at least one bound")
        if len(kinds) > 1:
            raise TypeError(f"Range bounds mix {' and '.join(sorted(kinds))}")

    def bounds(self) -> dict[str, Any]:
        """The bounds that are set, by operator name (``gt``, ``gte``, ``lt``, ``lte``)."""
        pairs = (("gt", self.gt), ("gte", self.gte), ("lt", self.lt), ("lte", self.lte))
        return {op: v for op, v in pairs if v is not None}


@attrs.frozen(init=False)
class And:
    """Every item holds; ``And()`` matches everything."""

    items: tuple[Condition, ...]

    def __init__(self, *items: Condition) -> None:
        self.__attrs_init__(tuple(items))


@attrs.frozen(init=False)
class Or:
    """At least one item holds; ``Or()`` matches nothing."""

    items: tuple[Condition, ...]

    def __init__(self, *items: Condition) -> None:
        self.__attrs_init__(tuple(items))


Condition: TypeAlias = "Eq | Ne | In | NotIn | Exists | Range | And | Or"


def _paths(values: Iterable[str | Sequence[str]]) -> tuple[Path, ...]:
    """Projection paths; a path under another one listed is dropped (Mongo rejects the pair)."""
    paths = sorted({to_path(v) for v in values}, key=len)
    kept: list[Path] = []
    for p in paths:
        if not any(p[: len(k)] == k for k in kept):
            kept.append(p)
    return tuple(sorted(kept))


def _sort(values: Iterable[tuple[str | Sequence[str], int]]) -> tuple[tuple[Path, int], ...]:
    out = []
    for path, direction in values:
        if direction not in (1, -1):
            raise ValueError(f"sort direction must be 1 or -1, not {direction!r}")
        out.append((to_path(path), direction))
    return tuple(out)


def _non_negative(_inst: object, attr: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or value < 0):
        raise ValueError(f"{attr.name} must be >= 0, not {value!r}")


@attrs.frozen
class Query:
    """What :meth:`Store.find` returns.

    ``fields`` projects (Mongo style: nested dicts keep only those paths; empty = whole document);
    ``sort`` is ``[(path, 1 | -1)]``, ties and unsorted results in creation order; ``limit`` None
    means no limit (0 returns nothing); soft-deleted documents only with ``include_deleted``.
    """

    where: Condition | None = None
    fields: tuple[Path, ...] = attrs.field(default=(), converter=_paths)
    sort: tuple[tuple[Path, int], ...] = attrs.field(default=(), converter=_sort)
    offset: int = attrs.field(default=0, validator=_non_negative)
    limit: int | None = attrs.field(default=None, validator=_non_negative)
    include_deleted: bool = False


def key_match(key: Mapping[str, Any]) -> Condition:
    """The condition naming exactly one resource, as :meth:`Store.upsert` looks it up.

    Equality on every key field; a feature key without ``namespace`` (a cluster-scoped resource)
    also requires ``namespace`` to be absent, so it never matches a namespaced namesake.
    """
    items: list[Condition] = [Eq((name,), value) for name, value in key.items()]
    if set(key) <= set(FEATURE_FIELDS) and "namespace" not in key:
        items.append(Exists(("namespace",), present=False))
    return And(*items)


def keys_match(keys: Iterable[Mapping[str, Any]]) -> Condition:
    """The condition naming exactly the resources of ``keys`` (as :func:`key_match` names one).

    Feature keys are grouped by all but ``resourceName``, one ``In`` on the names per group, which an
    index on the feature fields serves and Mongo-wire servers plan better than a long ``$or``.
    """
    groups: dict[tuple[tuple[str, Any], ...], dict[Any, None]] = {}
    items: list[Condition] = []
    for key in keys:
        if "resourceName" in key and set(key) <= set(FEATURE_FIELDS):
            rest = tuple(sorted((k, v) for k, v in key.items() if k != "resourceName"))
            groups.setdefault(rest, {})[key["resourceName"]] = None
        else:
            items.append(key_match(key))
    for rest, names in groups.items():
        parts: list[Condition] = [Eq((k,), v) for k, v in rest]
        if "namespace" not in dict(rest):
            parts.append(Exists(("namespace",), present=False))
        named = list(names)
        parts.append(In(("resourceName",), named) if len(named) > 1 else Eq(("resourceName",), named[0]))
        items.append(And(*parts))
    return items[0] if len(items) == 1 else Or(*items)
