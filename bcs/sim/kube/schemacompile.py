"""A CRD version's schema compiled once into validity checks, so a valid write costs little.

``schemavalidate`` walks the schema dict for every value, building paths and errors as it goes.
Most writes are valid, so ``check(schema)`` compiles each node once into a closure that answers only
*whether* a value passes: per JSON type, the outcome of the ``type``/``format`` check is computed at
compile time, bounds and lengths are read once, string enums become sets, and checks a node does not
have cost nothing. The answer is exactly ``not schemavalidate.validate(schema, value)``; only when it is
False does the caller run the full validator for the errors (and, on updates, ratcheting). Values of
types JSON cannot produce fall back to the full validator.

``subtrees(schema, predicate)`` marks the nodes at or above those a predicate holds for, so walks
(defaulting, list-type uniqueness, embedded resources) skip subtrees that cannot matter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bcs.sim.kube import ratcheting, schemavalidate, strformats
from bcs.sim.kube.schemavalidate import INT64, is_json_integer

__all__ = ["Check", "check", "subtrees"]

Check = Callable[[Any], bool]
Schema = dict[str, Any]
_SAMPLES = {  # one value of each class the type check cannot tell apart
    str: "x",
    bool: True,
    list: [],
    dict: {},
    "int": 1,
    "bigint": 2**63,
    "float": 1.0,
    "fraction": 1.5,
}


def _true(_: Any) -> bool:
    return True


def _false(_: Any) -> bool:
    return False


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _combinators(s: Schema) -> Check | None:
    """``anyOf``/``oneOf``/``allOf``/``not``, or None when the node has none."""
    any_nodes = [_node(x) for x in s.get("anyOf") or () if isinstance(x, dict)]
    any_of = [c for c, _ in any_nodes]
    # Types some branch accepts outright (``anyOf: [{type: integer}, {type: string}]``).
    any_types = tuple({p for _, p in any_nodes if p is not None})
    one_of = [check(x) for x in s.get("oneOf") or () if isinstance(x, dict)]
    all_of = [check(x) for x in s.get("allOf") or () if isinstance(x, dict)]
    not_ = check(s["not"]) if isinstance(s.get("not"), dict) else None
    if not (any_of or one_of or all_of or not_):
        return None

    def ok(x: Any) -> bool:
        if any_of and not (any_types and _fits_any(any_types, x)) and not any(c(x) for c in any_of):
            return False
        if one_of and sum(1 for c in one_of if c(x)) != 1:
            return False
        if all_of and not all(c(x) for c in all_of):
            return False
        return not (not_ is not None and not_(x))

    return ok


def _enum(s: Schema) -> Check | None:
    enum = s.get("enum")
    if not isinstance(enum, list) or not enum:
        return None
    strings = frozenset(e for e in enum if type(e) is str)

    def ok(x: Any) -> bool:
        if type(x) is str:
            return x in strings
        return any(schemavalidate.enum_matches(x, e) for e in enum)

    return ok


def _string(s: Schema) -> Check | None:
    max_len, min_len, pattern = s.get("maxLength"), s.get("minLength"), s.get("pattern")
    max_len = max_len if isinstance(max_len, int) else None
    min_len = min_len if isinstance(min_len, int) else None
    rx = schemavalidate.regexp(pattern) if isinstance(pattern, str) and pattern else None
    fmt = schemavalidate.format_of(s)
    fmt_ok = strformats.checker(fmt) if fmt else None
    if isinstance(rx, str):
        return _false
    if max_len is None and min_len is None and rx is None and fmt_ok is None:
        return None

    def ok(x: str) -> bool:
        n = len(x)
        if (max_len is not None and n > max_len) or (min_len is not None and n < min_len):
            return False
        if rx is not None and not rx.search(x):
            return False
        return fmt_ok is None or fmt_ok(x)

    return ok


def _number(s: Schema) -> tuple[Check | None, Check | None]:
    """(the check of int64 values, the check of other numbers), as ``schemavalidate._number``."""
    mult = s.get("multipleOf") if _num(s.get("multipleOf")) else None
    bounds = [
        (s[key], bool(s.get(exclusive)), below)
        for key, exclusive, below in (
            ("minimum", "exclusiveMinimum", True),
            ("maximum", "exclusiveMaximum", False),
        )
        if _num(s.get(key))
    ]
    if mult is None and not bounds:
        return None, None

    def make(native: bool) -> Check:
        factor = (int(mult) if native else float(mult)) if mult is not None else None
        limits = [(int(b) if native else float(b), excl, below) for b, excl, below in bounds]

        def ok(x: Any) -> bool:
            if factor is not None:
                if factor <= 0:
                    return False
                if native:
                    if x % int(factor) != 0:
                        return False
                elif not is_json_integer((1 / factor * x) if factor < 1 else x / factor):
                    return False
            for b, excl, below in limits:
                if below:
                    if x <= b if excl else x < b:
                        return False
                elif x >= b if excl else x > b:
                    return False
            return True

        return ok

    return make(True), make(False)


def _fits_any(plains: tuple[type, ...], v: Any) -> bool:
    t = type(v)
    return t in plains and (t is not int or INT64[0] <= v <= INT64[1])


def _fits(plain: type | None, v: Any) -> bool:
    """Whether ``v`` is valid by its type alone for a node whose plain type is ``plain``."""
    t = type(v)
    return t is plain and (t is not int or INT64[0] <= v <= INT64[1])


def _array(s: Schema) -> Check | None:
    items, plain = _node(s["items"]) if isinstance(s.get("items"), dict) else (None, None)
    items = None if items is _true else items
    min_items, max_items = s.get("minItems"), s.get("maxItems")
    min_items = min_items if isinstance(min_items, int) else None
    max_items = max_items if isinstance(max_items, int) else None
    unique = s.get("uniqueItems") is True
    if items is None and min_items is None and max_items is None and not unique:
        return None

    def ok(x: list[Any]) -> bool:
        n = len(x)
        if (min_items is not None and n < min_items) or (max_items is not None and n > max_items):
            return False
        if items is not None:
            for v in x:
                if not _fits(plain, v) and not items(v):
                    return False
        if unique:
            for i in range(1, n):
                if any(ratcheting.deep_equal(x[i], x[j]) for j in range(i)):
                    return False
        return True

    return ok


def _object(s: Schema) -> Check | None:
    props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
    plain_checks: list[tuple[str, type, Check]] = []  # valid by type alone in the common case
    checks: list[tuple[str, Check]] = []
    for name, sub in props.items():
        if isinstance(sub, dict):
            c, plain = _node(sub)
            if plain is not None:
                plain_checks.append((name, plain, c))
            elif c is not _true:
                checks.append((name, c))
    addl = s.get("additionalProperties")
    addl_check, addl_plain = _node(addl) if isinstance(addl, dict) else (None, None)
    addl_check = None if addl_check is _true else addl_check
    closed = addl is False
    required = [k for k in s.get("required") or () if isinstance(k, str)]
    min_props, max_props = s.get("minProperties"), s.get("maxProperties")
    min_props = min_props if isinstance(min_props, int) else None
    max_props = max_props if isinstance(max_props, int) else None
    if (
        not (checks or plain_checks or closed or addl_check or required)
        and min_props is None
        and max_props is None
    ):
        return None
    lo, hi = INT64

    def ok(x: dict[str, Any]) -> bool:
        n = len(x)
        if (min_props is not None and n < min_props) or (max_props is not None and n > max_props):
            return False
        for k in required:
            if k not in x:
                return False
        if closed:
            for k in x:
                if k not in props:
                    return False
        elif addl_check is not None:
            for k, v in x.items():
                if k not in props and not _fits(addl_plain, v) and not addl_check(v):
                    return False
        for name, plain, c in plain_checks:
            if name in x:
                v = x[name]
                t = type(v)
                if (t is not plain or (t is int and not lo <= v <= hi)) and not c(v):
                    return False
        return all(name not in x or c(x[name]) for name, c in checks)

    return ok


def _all(*checks: Check | None) -> Check:
    present = [c for c in checks if c is not None]
    if not present:
        return _true
    if len(present) == 1:
        return present[0]
    if len(present) == 2:
        a, b = present
        return lambda x: a(x) and b(x)
    return lambda x: all(c(x) for c in present)


def _node(s: Schema) -> tuple[Check, type | None]:
    """A node's check, and the Python type whose values it accepts with no further check (None when
    no type is that simple; ``int`` means an int64)."""
    typed = bool(schemavalidate.format_of(s) or schemavalidate.types_of(s))
    typed = bool(schemavalidate.format_of(s) or schemavalidate.types_of(s))
    passes = {k: (not typed or schemavalidate.type_ok(s, v)) for k, v in _SAMPLES.items()}
    enum, comb = _enum(s), _combinators(s)
    none_ok = schemavalidate.type_ok(s, None) and enum is None
    int_check, float_check = _number(s)

    def handler(key: Any, own: Check | None) -> Check:
        return _all(comb, own, enum) if passes[key] else _false

    by_type: dict[type, Check] = {
        str: handler(str, _string(s)),
        bool: handler(bool, None),
        list: handler(list, _array(s)),
        dict: handler(dict, _object(s)),
        type(None): _true if none_ok else _false,
    }
    native = handler("int", int_check)
    big = handler("bigint", float_check)
    whole, fraction = handler("float", float_check), handler("fraction", float_check)

    def of_int(x: int) -> bool:
        return native(x) if INT64[0] <= x <= INT64[1] else big(x)

    def of_float(x: float) -> bool:
        return whole(x) if is_json_integer(x) else fraction(x)

    if all(c is _true for c in (*by_type.values(), native, big, whole, fraction)):
        return _true, None
    by_type[int], by_type[float] = of_int, of_float

    def slow(x: Any) -> bool:
        return not schemavalidate.validate(s, x)

    get = by_type.get

    def ok(x: Any) -> bool:
        return get(type(x), slow)(x)

    return _expected(s, ok, by_type, native) or (ok, None)


_PY_TYPES = {"string": str, "boolean": bool, "array": list, "object": dict, "integer": int}


def _expected(
    s: Schema, generic: Check, by_type: dict[type, Check], native: Check
) -> tuple[Check, type | None] | None:
    """A check that tries the type a one-type node declares first (the common case: one call), and
    that type when its values need no other check."""
    types = schemavalidate.types_of(s)
    py = _PY_TYPES.get(types[0]) if len(types) == 1 else None
    if py is None:
        return None
    lo, hi = INT64
    if py is int:
        if native is _true:
            return (lambda x: (type(x) is int and lo <= x <= hi) or generic(x)), int
        return (lambda x: native(x) if type(x) is int and lo <= x <= hi else generic(x)), None
    handler = by_type[py]
    if handler is _true:
        return (lambda x: type(x) is py or generic(x)), py
    return (lambda x: handler(x) if type(x) is py else generic(x)), None


def check(schema: Schema) -> Check:
    """The compiled validity check of ``schema``: True exactly when ``schemavalidate.validate`` finds
    no error. Compiling walks the whole schema once; callers keep the result (``crvalidation`` keeps
    one per CRD version, replaced whenever the CRD is written)."""
    return _node(schema)[0]


def subtrees(schema: Any, predicate: Callable[[Schema], bool]) -> frozenset[int]:
    """The ids of the schema nodes (under properties, additionalProperties and items) at which, or
    below which, ``predicate`` holds."""
    out: set[int] = set()

    def walk(s: Any) -> bool:
        if not isinstance(s, dict):
            return False
        found = predicate(s)
        props = s.get("properties")
        children = [
            *(props.values() if isinstance(props, dict) else ()),
            s.get("additionalProperties"),
            s.get("items"),
        ]
        for child in children:
            found = walk(child) or found
        if found:
            out.add(id(s))
        return found

    walk(schema)
    return frozenset(out)
