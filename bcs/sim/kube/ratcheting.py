"""Validation ratcheting: which new values equal the old values they replace.

The apiserver (CRDValidationRatcheting, on by default in 1.32) correlates an update's new object with
the old one, field by field and, in ``x-kubernetes-list-type: map`` lists, item by key; errors found in
a correlated value equal to its old value are dropped. ``Corr`` is that correlation.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Corr", "deep_equal"]

Schema = dict[str, Any]


def deep_equal(a: Any, b: Any) -> bool:
    """Go's reflect.DeepEqual on decoded JSON: an int and a float are different values."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(deep_equal, a, b))
    return type(a) is type(b) and a == b


def _sub_schema(s: Schema | None, field: str) -> Schema | None:
    if not isinstance(s, dict):
        return None
    props = s.get("properties")
    if isinstance(props, dict) and isinstance(props.get(field), dict):
        return props[field]
    addl = s.get("additionalProperties")
    return addl if isinstance(addl, dict) else None


def _map_key(s: Schema, item: Any) -> tuple[Any, ...] | None:
    keys = s.get("x-kubernetes-list-map-keys") or []
    if not isinstance(item, dict) or not keys or any(k not in item for k in keys):
        return None
    values = tuple((type(item[k]), item[k]) for k in keys)
    return values if all(isinstance(v, (bool, int, float, str)) for _, v in values) else None


class Corr:
    """A new value and the old value it replaces, with the schema both are validated against."""

    __slots__ = ("_equal", "_old_by_key", "new", "old", "schema")

    def __init__(self, new: Any, old: Any, schema: Schema | None) -> None:
        self.new, self.old, self.schema = new, old, schema
        self._equal: bool | None = None
        self._old_by_key: dict[tuple[Any, ...], Any] | None = None

    def key(self, field: str) -> Corr | None:
        if not (isinstance(self.old, dict) and isinstance(self.new, dict)):
            return None
        if field not in self.old or field not in self.new:
            return None
        sub = _sub_schema(self.schema, field)
        return None if sub is None else Corr(self.new[field], self.old[field], sub)

    def _is_map_list(self) -> bool:
        return isinstance(self.schema, dict) and self.schema.get("x-kubernetes-list-type") == "map"

    def index(self, i: int) -> Corr | None:
        s = self.schema
        if not isinstance(s, dict) or not (isinstance(self.old, list) and isinstance(self.new, list)):
            return None
        if i >= len(self.new) or not self._is_map_list() or s.get("type") != "array":
            return None
        if self._old_by_key is None:
            self._old_by_key = {}
            for o in self.old:
                k = _map_key(s, o)
                if k is not None:
                    self._old_by_key.setdefault(k, o)
        key = _map_key(s, self.new[i])
        old = self._old_by_key.get(key) if key is not None else None
        items = s.get("items")
        if old is None or not isinstance(items, dict):
            return None
        return Corr(self.new[i], old, items)

    def equal(self) -> bool:
        if self._equal is None:
            self._equal = self._compare()
        return self._equal

    def _compare(self) -> bool:
        old, new = self.old, self.new
        if old is None or new is None:
            return old is None and new is None
        if isinstance(old, list) and isinstance(new, list):
            if len(old) != len(new):
                return False
            for i in range(len(new)):
                child = self.index(i)
                if child is None:
                    return False if self._is_map_list() else deep_equal(old, new)
                if not child.equal():
                    return False
            return True
        if isinstance(old, dict) and isinstance(new, dict):
            if len(old) != len(new):
                return False
            return all((c := self.key(k)) is not None and c.equal() for k in new)
        if isinstance(old, (list, dict)) or isinstance(new, (list, dict)):
            return False
        return deep_equal(old, new)
