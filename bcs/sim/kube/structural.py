"""Structural-schema pruning and defaulting of custom resources, as the apiextensions apiserver does.

A CRD version's ``openAPIV3Schema`` is used as a structural schema: ``properties``,
``additionalProperties``, ``items``, ``default``, ``nullable``, ``x-kubernetes-preserve-unknown-fields``
and ``x-kubernetes-embedded-resource`` (value validations such as ``allOf`` play no part here).
Pruning drops fields the schema does not declare and reports their paths (``spec.foo``,
``spec.items[0].bar``); defaulting fills ``default`` values into absent fields and into ``null``s the
schema does not allow.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

__all__ = ["Defaulter", "defaulter", "prune", "prune_nulls"]

_META = frozenset(("apiVersion", "kind", "metadata"))
Schema = dict[str, Any]


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _additional(s: Schema) -> tuple[bool, Schema | None]:
    """Whether ``additionalProperties`` is set, and its schema (None when a bare boolean)."""
    addl = s.get("additionalProperties")
    if addl is None:
        return False, None
    return True, addl if isinstance(addl, dict) else None


def _field_schema(s: Schema | None, key: str) -> Schema | None:
    if s is None:
        return None
    props = s.get("properties") or {}
    if key in props:
        return props[key]
    return _additional(s)[1]


def prune(obj: Any, s: Schema | None, *, root: bool = True, path: str = "") -> list[str]:
    """Remove undeclared fields from ``obj`` in place; returns their paths, sorted."""
    out: list[str] = []
    if root:
        s = {**(s or {}), "x-kubernetes-embedded-resource": True}
    _prune(obj, s, path, out)
    return sorted(out)


def _prune(x: Any, s: Schema | None, path: str, out: list[str], keep: bool = False) -> None:
    """Drop what ``s`` does not specify (``keep``: under x-kubernetes-preserve-unknown-fields, where
    unknown fields stay and only known ones are pruned below; it carries into list items, not into
    the specified fields of an object)."""
    keep = keep or (s is not None and bool(s.get("x-kubernetes-preserve-unknown-fields")))
    if isinstance(x, dict):
        if s is None:
            out.extend(_key(path, k) for k in x)
            x.clear()
            return
        props = s.get("properties") or {}
        has_addl, addl = _additional(s)
        embedded = s.get("x-kubernetes-embedded-resource")
        for k in list(x):
            if embedded and k in _META:
                continue
            if k in props:
                _prune(x[k], props[k], _key(path, k), out)
            elif has_addl:
                _prune(x[k], addl, _key(path, k), out)
            elif not keep:
                if k not in _META or path:
                    out.append(_key(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        if not isinstance(items, dict):
            if keep:
                return  # unspecified items under preserve-unknown-fields stay whole
            items = None
        for i, v in enumerate(x):
            _prune(v, items, f"{path}[{i}]", out, keep)


def _non_nullable_null(x: Any, s: Schema | None) -> bool:
    return x is None and s is not None and not s.get("nullable", False)


def prune_nulls(x: Any, s: Schema | None) -> None:
    """Drop ``null`` values the schema neither allows (``nullable``) nor defaults."""
    if isinstance(x, dict):
        for k in list(x):
            sub = _field_schema(s, k)
            if _non_nullable_null(x[k], sub) and sub is not None and sub.get("default") is None:
                del x[k]
            else:
                prune_nulls(x[k], sub)
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for v in x:
            prune_nulls(v, items if isinstance(items, dict) else None)


Defaulter = Callable[[Any], None]


def _fill(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


def defaulter(s: Any) -> Defaulter | None:
    """Defaulting compiled for one schema: what fills ``default`` values into a value in place (absent
    fields, and disallowed ``null``s), or None when there is nothing to fill (no defaults declared
    below ``s``). Subtrees without defaults are never visited."""
    if not isinstance(s, dict):
        return None
    props = s.get("properties") or {}
    fills = [
        (k, p["default"], bool(p.get("nullable", False)))
        for k, p in props.items()
        if isinstance(p, dict) and p.get("default") is not None
    ]
    children = [(k, d) for k, p in props.items() if (d := defaulter(p)) is not None]
    has_addl, addl = _additional(s)
    addl_fill = addl.get("default") if addl is not None and not addl.get("nullable", False) else None
    addl_walk = defaulter(addl) if addl is not None else None
    items = s.get("items") if isinstance(s.get("items"), dict) else None
    item_fill = items.get("default") if items is not None and not items.get("nullable", False) else None
    item_walk = defaulter(items)
    by_key = fills or children or (has_addl and (addl_fill is not None or addl_walk is not None))
    if not by_key and item_fill is None and item_walk is None:
        return None

    def run(x: Any) -> None:
        if isinstance(x, dict):
            for k, value, nullable in fills:
                if k not in x or (x[k] is None and not nullable):
                    x[k] = _fill(value)
            for k, walk in children:
                if k in x:
                    walk(x[k])
            if addl_fill is not None or addl_walk is not None:
                for k in list(x):
                    if k in props:
                        continue
                    if addl_fill is not None and x[k] is None:
                        x[k] = _fill(addl_fill)
                    if addl_walk is not None:
                        addl_walk(x[k])
        elif isinstance(x, list) and items is not None:
            for i, v in enumerate(x):
                if item_fill is not None and v is None:
                    x[i] = _fill(item_fill)
                if item_walk is not None:
                    item_walk(x[i])

    return run
