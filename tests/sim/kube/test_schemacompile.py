"""The compiled schema checks and defaulting agree with the reference walkers on random schemas and values.

``schemacompile.check(schema)(value)`` must be exactly ``not schemavalidate.validate(schema, value)``
and ``structural.defaulter(schema)`` must do what the plain walk below (``_default``, apiextensions'
``structuraldefaulting.Default``) does: the write path relies on both (the full validator only runs
when the compiled check fails).
"""

from __future__ import annotations

import copy
import random
from typing import Any

from bcs.sim.kube import schemacompile, schemavalidate, structural

_FORMATS = ["date-time", "int32", "email", "uuid", "byte", "double", "hostname", "date"]
_ENUM = ["a", "b", 1, 2.0, True, None, {"k": 1}, [1]]
_STRINGS = ["a", "b", "abc", "", "ab9", "2024-05-01T10:00:00Z", "x@y.io", "AQID", "0123456789", "2024-02-30"]
_NUMBERS = [0, 1, 2, 3, -1, 4, 10, 11, 2**63, -(2**64), 6, 0.5, 1.0, 2.0, 2.5, -1.5, 1e20, 3.0, 0.1]


def _maybe(r: random.Random, p: float) -> bool:
    return r.random() < p


def _schema(r: random.Random, depth: int = 0) -> dict[str, Any]:
    s: dict[str, Any] = {}
    kind = r.choice(["object", "array", "string", "integer", "number", "boolean", None, None])
    if kind:
        s["type"] = kind
    if _maybe(r, 0.1):
        s = {"x-kubernetes-int-or-string": True}
    scalars = {
        "nullable": (0.15, lambda: True),
        "format": (0.2, lambda: r.choice(_FORMATS)),
        "enum": (0.2, lambda: r.sample(_ENUM, r.randint(1, 3))),
        "minimum": (0.2, lambda: r.choice([0, 1, -1.5, 2])),
        "maximum": (0.2, lambda: r.choice([3, 10, 2.5])),
        "exclusiveMinimum": (0.1, lambda: True),
        "exclusiveMaximum": (0.1, lambda: True),
        "multipleOf": (0.15, lambda: r.choice([2, 0.5, 3, 0.1, 0])),
        "maxLength": (0.2, lambda: r.randint(0, 4)),
        "minLength": (0.1, lambda: r.randint(0, 3)),
        "pattern": (0.15, lambda: r.choice(["^[a-z]+$", "b", "(", "^x"])),
        "minItems": (0.15, lambda: r.randint(0, 2)),
        "maxItems": (0.15, lambda: r.randint(0, 3)),
        "uniqueItems": (0.1, lambda: True),
        "minProperties": (0.1, lambda: r.randint(0, 2)),
        "maxProperties": (0.1, lambda: r.randint(0, 3)),
        "default": (0.2, lambda: r.choice([*_STRINGS[:3], 1, 2.5, True, {"a": "x"}, [1, 2]])),
    }
    for key, (p, make) in scalars.items():
        if _maybe(r, p):
            s[key] = make()
    if depth < 3:
        if _maybe(r, 0.4):
            s["properties"] = {k: _schema(r, depth + 1) for k in r.sample(["a", "b", "c"], r.randint(1, 3))}
        if _maybe(r, 0.3):
            s["required"] = r.sample(["a", "b", "z"], r.randint(1, 2))
        if _maybe(r, 0.2):
            s["additionalProperties"] = r.choice([False, True, _schema(r, depth + 1)])
        if _maybe(r, 0.3):
            s["items"] = _schema(r, depth + 1)
        for key in ("anyOf", "oneOf", "allOf"):
            if _maybe(r, 0.12):
                s[key] = [_schema(r, depth + 2) for _ in range(r.randint(1, 3))]
        if _maybe(r, 0.08):
            s["not"] = _schema(r, depth + 2)
    return s


def _value(r: random.Random, depth: int = 0) -> Any:
    c = r.random() * (0.6 if depth > 3 else 1.0)
    if c < 0.12:
        return r.choice(_STRINGS)
    if c < 0.34:
        return r.choice(_NUMBERS)
    if c < 0.4:
        return r.choice([True, False])
    if c < 0.45:
        return None
    if c < 0.7:
        return [_value(r, depth + 1) for _ in range(r.randint(0, 3))]
    return {k: _value(r, depth + 1) for k in r.sample(["a", "b", "c", "d"], r.randint(0, 4))}


def test_compiled_checks_agree_with_the_validator() -> None:
    r = random.Random(20240501)
    valid = invalid = 0
    for _ in range(1500):
        schema = _schema(r)
        ok = schemacompile.check(schema)
        for _ in range(20):
            value = _value(r)
            want = not schemavalidate.validate(schema, value)
            assert ok(value) == want, (schema, value)
            valid += want
            invalid += not want
    # Both answers are well represented, so the agreement means something.
    assert valid > 2000
    assert invalid > 2000


def _default(x: Any, s: dict[str, Any] | None) -> None:
    """Fill ``default`` values in place (absent fields, and disallowed ``null``s), node by node."""

    def null(v: Any, sub: dict[str, Any] | None) -> bool:
        return v is None and sub is not None and not sub.get("nullable", False)

    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, prop in props.items():
            if prop.get("default") is not None and (k not in x or null(x[k], prop)):
                x[k] = copy.deepcopy(prop["default"])
        addl = s.get("additionalProperties")
        for k in list(x):
            if k in props:
                _default(x[k], props[k])
            elif isinstance(addl, dict):
                if null(x[k], addl) and addl.get("default") is not None:
                    x[k] = copy.deepcopy(addl["default"])
                _default(x[k], addl)
    elif isinstance(x, list) and isinstance(s.get("items"), dict):
        items = s["items"]
        for i, v in enumerate(x):
            if null(v, items) and items.get("default") is not None:
                x[i] = copy.deepcopy(items["default"])
            _default(x[i], items)


def test_compiled_defaulting_agrees_with_the_walker() -> None:
    r = random.Random(7)
    changed = 0
    for _ in range(1500):
        schema = _schema(r)
        fill = structural.defaulter(schema)
        for _ in range(10):
            value = {"a": _value(r), "b": None, "c": [None, {}]}
            want, got = copy.deepcopy(value), copy.deepcopy(value)
            _default(want, schema)
            if fill is not None:
                fill(got)
            assert got == want, (schema, value)
            changed += want != value
    assert changed > 500


def test_a_type_only_leaf_compiles_to_a_cheap_check_that_still_falls_back() -> None:
    ok = schemacompile.check({"type": "object", "properties": {"n": {"type": "integer"}}})
    assert ok({"n": 3})
    assert not ok({"n": "3"})
    assert not ok({"n": 2**63})
    assert not ok({"n": 1.5})
    assert ok({"n": 2.0})  # an integral number is an integer, as kube-openapi decides


def test_pruning_under_preserve_unknown_fields() -> None:
    # Unknown fields stay where the schema preserves them; fields it does specify are pruned below
    # as usual; list items of a preserving array keep preserving (as apiextensions' skipPrune).
    obj: dict[str, Any] = {
        "spec": {"known": {"a": "x", "b": 1}, "other": {"deep": [1, {"z": 2}]}},
        "lst": [{"k": "v", "extra": 1}, 3],
        "bare": [{"anything": 1}],
        "plain": [{"k": "v", "extra": 1}],
        "top": 1,
    }
    item = {"type": "object", "properties": {"k": {"type": "string"}}}
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}},
            },
            "lst": {"type": "array", "x-kubernetes-preserve-unknown-fields": True, "items": item},
            "bare": {"type": "array", "x-kubernetes-preserve-unknown-fields": True},
            "plain": {"type": "array", "items": item},
        },
    }
    assert structural.prune(obj, schema) == ["plain[0].extra", "spec.known.b", "top"]
    assert obj == {
        "spec": {"known": {"a": "x"}, "other": {"deep": [1, {"z": 2}]}},
        "lst": [{"k": "v", "extra": 1}, 3],
        "bare": [{"anything": 1}],
        "plain": [{"k": "v"}],
    }
