"""OpenAPI v3 value validation of custom resources, as the apiextensions apiserver runs it.

The checks, their order, their messages and the choice among ``anyOf``/``oneOf`` failures (the branch
with the most passed checks) follow kube-openapi's ``validate.SchemaValidator`` as the 1.32 apiserver
configures it: ``type`` (``x-kubernetes-int-or-string`` is ``integer,string``; an integral number is an
integer, an integer is a number), ``nullable``, ``format`` (``strformats``: the others are ignored),
``enum``, ``minimum``/``maximum`` (and exclusive), ``multipleOf``, ``minLength``/``maxLength``/``pattern``,
``minItems``/``maxItems``/``uniqueItems``, ``minProperties``/``maxProperties``, ``required``,
``additionalProperties``, ``allOf``/``anyOf``/``oneOf``/``not``.

Updates ratchet as CRDValidationRatcheting (on in 1.32) does: an error found in a value equal to the
value it replaces (correlated by field name, and by key in ``x-kubernetes-list-type: map`` lists) is
dropped (``ratcheting``), so objects stored before a schema change stay writable.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import attrs

from bcs.sim.kube import gofmt, goregexp, ratcheting, strformats
from bcs.sim.kube.ratcheting import Corr

__all__ = [
    "COMPOSITE",
    "ENUM",
    "MAX_ITEMS",
    "REQUIRED",
    "TOO_LONG",
    "TOO_MANY_PROPS",
    "INT64",
    "TYPE",
    "Error",
    "enum_matches",
    "format_of",
    "is_json_integer",
    "regexp",
    "type_ok",
    "types_of",
    "validate",
]

Schema = dict[str, Any]

TYPE, REQUIRED, ENUM, TOO_LONG, MAX_ITEMS, TOO_MANY_PROPS, OTHER, COMPOSITE = (
    "type",
    "required",
    "enum",
    "too-long",
    "max-items",
    "too-many-properties",
    "other",
    "composite",
)
INT64 = (-(2**63), 2**63 - 1)


@attrs.frozen
class Error:
    """One kube-openapi error: its kind, the path it names, its message, and the values it carries."""

    code: str
    name: str
    message: str
    value: Any = None
    valid: Any = None
    values: tuple[Any, ...] = ()


def _json_type(x: Any) -> tuple[str, str]:
    """The JSON type and the Go format kube-openapi infers for a decoded value."""
    if isinstance(x, bool):
        return "boolean", ""
    if isinstance(x, int):
        return ("integer", "int64") if INT64[0] <= x <= INT64[1] else ("number", "float64")
    if isinstance(x, float):
        return "number", "float64"
    if isinstance(x, list):
        return "array", ""
    if isinstance(x, dict):
        return "object", ""
    return "string", ""


def is_json_integer(f: float) -> bool:
    return f == f and abs(f) <= 2**53 and float(f).is_integer()


def types_of(s: Schema) -> list[str]:
    if s.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = s.get("type")
    return [t] if isinstance(t, str) and t else []


def format_of(s: Schema) -> str:
    fmt = s.get("format")
    return fmt if isinstance(fmt, str) and strformats.known(fmt) else ""


def _invalid_type(path: str, type_name: str, value: str) -> Error:
    return Error(TYPE, path, f"{path} in body must be of type {type_name}: {gofmt.quote(value)}", value)


# Each check appends its errors to ``errs`` and returns how many checks passed (kube-openapi's
# MatchCount, which picks the anyOf/oneOf branch whose errors are reported).
def _type(s: Schema, data: Any, path: str, errs: list[Error]) -> int:
    types, fmt = types_of(s), format_of(s)
    if data is None:
        if types and "null" not in types and not s.get("nullable"):
            errs.append(_invalid_type(path, ",".join(types), "null"))
            return 0
        return 1
    sch, fmt_of_data = _json_type(data)
    float_int = sch == "number" and "integer" in types and is_json_integer(float(data))
    int_float = sch == "integer" and "number" in types
    textual = sch in ("string", "array")
    if not textual and fmt and not (sch in types or fmt_of_data == fmt or float_int or int_float):
        errs.append(_invalid_type(path, fmt, fmt_of_data))
        return 0
    if fmt and textual and "number" not in types and "integer" not in types:
        return 1
    if not (sch in types or float_int or int_float):
        errs.append(_invalid_type(path, ",".join(types), sch))
        return 0
    return 1


def type_ok(s: Schema, data: Any) -> bool:
    """Whether ``data`` passes the ``type``/``format`` check of ``s`` (the check ``validate`` runs when
    ``s`` names a type or an enforced format)."""
    errs: list[Error] = []
    _type(s, data, "", errs)
    return not errs


@functools.lru_cache(maxsize=256)
def regexp(pattern: str) -> re.Pattern[str] | str:
    try:
        return re.compile(goregexp.python_pattern(pattern), re.ASCII)
    except re.error as exc:
        return str(exc)


def _string(s: Schema, data: str, path: str, errs: list[Error]) -> None:
    max_len, min_len, pattern = s.get("maxLength"), s.get("minLength"), s.get("pattern")
    if isinstance(max_len, int) and len(data) > max_len:
        msg = f"{path} in body should be at most {max_len} chars long"
        errs.append(Error(TOO_LONG, path, msg, data, max_len))
    elif isinstance(min_len, int) and len(data) < min_len:
        errs.append(Error(OTHER, path, f"{path} in body should be at least {min_len} chars long", data))
    elif isinstance(pattern, str) and pattern:
        rx = regexp(pattern)
        if isinstance(rx, str):
            shown = f"{pattern}, but pattern is invalid: {rx}"
        elif rx.search(data):
            return
        else:
            shown = pattern
        errs.append(Error(OTHER, path, f"{path} in body should match '{shown}'", data))


def _fails(data: float, bound: float, exclusive: bool, below: bool) -> bool:
    if below:
        return data <= bound if exclusive else data < bound
    return data >= bound if exclusive else data > bound


def _number(s: Schema, data: int | float, path: str, errs: list[Error]) -> None:
    native_int = isinstance(data, int) and INT64[0] <= data <= INT64[1]
    mult = s.get("multipleOf")
    if isinstance(mult, (int, float)) and not isinstance(mult, bool):
        factor: int | float = int(mult) if native_int else float(mult)
        if factor <= 0:
            msg = f"factor MultipleOf declared for {path} must be positive: {gofmt.v(factor)}"
            errs.append(Error(OTHER, path, msg, factor))
        elif (native_int and data % int(factor) != 0) or (
            not native_int and not is_json_integer((1 / factor * data) if factor < 1 else data / factor)
        ):
            errs.append(Error(OTHER, path, f"{path} in body should be a multiple of {gofmt.v(factor)}", data))
    for key, exclusive_key, word in (
        ("minimum", "exclusiveMinimum", "greater"),
        ("maximum", "exclusiveMaximum", "less"),
    ):
        bound = s.get(key)
        if not isinstance(bound, (int, float)) or isinstance(bound, bool):
            continue
        bound = int(bound) if native_int else float(bound)
        exclusive = bool(s.get(exclusive_key))
        if _fails(data, bound, exclusive, below=word == "greater"):
            relation = f"{word} than" if exclusive else f"{word} than or equal to"
            errs.append(Error(OTHER, path, f"{path} in body should be {relation} {gofmt.v(bound)}", data))


def enum_matches(data: Any, e: Any) -> bool:
    """Whether ``data`` equals ``e`` after Go converts it to ``e``'s type (if it can)."""
    if data is None or e is None:
        return False
    if isinstance(e, bool) or isinstance(data, bool):
        return type(e) is type(data) and e == data
    if isinstance(e, int) and isinstance(data, (int, float)):
        return int(data) == e
    if isinstance(e, float) and isinstance(data, (int, float)):
        return float(data) == e
    if isinstance(e, str) and isinstance(data, int):
        return 0 <= data <= 0x10FFFF and not 0xD800 <= data <= 0xDFFF and chr(data) == e
    return ratcheting.deep_equal(data, e)


def _enum(s: Schema, data: Any, path: str, errs: list[Error]) -> None:
    enum = s.get("enum")
    if not isinstance(enum, list) or not enum or any(enum_matches(data, e) for e in enum):
        return
    msg = f"{path} in body should be one of {gofmt.v(enum)}"
    errs.append(Error(ENUM, path, msg, data, values=tuple(enum)))


def _slice(s: Schema, data: list[Any], path: str, corr: Corr | None, errs: list[Error]) -> int:
    count = 1
    items = s.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(data):
            count += _validate(items, item, f"{path}[{i}]", corr.index(i) if corr else None, errs)
    size = len(data)
    min_items, max_items = s.get("minItems"), s.get("maxItems")
    if isinstance(min_items, int) and size < min_items:
        errs.append(Error(OTHER, path, f"{path} in body should have at least {min_items} items", size))
    if isinstance(max_items, int) and size > max_items:
        msg = f"{path} in body should have at most {max_items} items"
        errs.append(Error(MAX_ITEMS, path, msg, size, max_items))
    if s.get("uniqueItems") is True:
        seen: list[Any] = []
        for item in data:
            if any(ratcheting.deep_equal(item, other) for other in seen):
                errs.append(Error(OTHER, path, f"{path} in body shouldn't contain duplicates"))
                break
            seen.append(item)
    return count


def _object(s: Schema, data: dict[str, Any], path: str, corr: Corr | None, errs: list[Error]) -> int:
    count = 0
    size = len(data)
    min_props, max_props = s.get("minProperties"), s.get("maxProperties")
    if isinstance(min_props, int) and size < min_props:
        errs.append(Error(OTHER, path, f"{path} in body should have at least {min_props} properties", size))
    if isinstance(max_props, int) and size > max_props:
        msg = f"{path} in body should have at most {max_props} properties"
        errs.append(Error(TOO_MANY_PROPS, path, msg, size, max_props))
    props = s.get("properties")
    props = props if isinstance(props, dict) else {}
    addl = s.get("additionalProperties")
    if addl is False:
        for k in data:
            if k not in props:
                errs.append(Error(OTHER, path, f"{path}.{k} in body is a forbidden property", k))
    elif isinstance(addl, dict):
        for k, v in data.items():
            if k not in props:
                count += _validate(addl, v, f"{path}.{k}", corr.key(k) if corr else None, errs)
    for name, sub in props.items():
        if name in data and isinstance(sub, dict):
            child = corr.key(name) if corr and not (path == "" and name in ("kind", "apiVersion")) else None
            count += _validate(sub, data[name], f"{path}.{name}" if path else name, child, errs)
    for k in s.get("required") or ():
        if isinstance(k, str) and k not in data:
            errs.append(Error(REQUIRED, f"{path}.{k}", f"{path}.{k} in body is required"))
    return count


class _Quoted:
    """A path Go-quoted only when a message is built with it."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __str__(self) -> str:
        return gofmt.quote(self.path)


def _composite(message: str) -> Error:
    return Error(COMPOSITE, "", message)


def _alternatives(subs: list[Schema], data: Any, path: str) -> list[tuple[list[Error], int]]:
    out = []
    for sub in subs:
        branch: list[Error] = []
        out.append((branch, _validate(sub, data, path, None, branch)))
    return out


def _schema_props(s: Schema, data: Any, path: str, errs: list[Error]) -> int:
    if not ("anyOf" in s or "oneOf" in s or "allOf" in s or "not" in s):
        return 1
    count = 1
    where = _Quoted(path)
    any_of = [x for x in s.get("anyOf") or () if isinstance(x, dict)]
    if any_of:
        best: tuple[list[Error], int] | None = None
        success: int | None = None
        for sub in any_of:
            branch: list[Error] = []
            matched = _validate(sub, data, path, None, branch)
            if not branch:
                best, success = None, matched
                break
            if best is None or matched > best[1]:
                best = (branch, matched)
        if success is None:
            errs.append(_composite(f"{where} must validate at least one schema (anyOf)"))
        if best is not None:
            errs.extend(best[0])
            count += best[1]
        elif success is not None:
            count += success
    one_of = [x for x in s.get("oneOf") or () if isinstance(x, dict)]
    if one_of:
        best, success, passed = None, None, 0
        for branch, matched in _alternatives(one_of, data, path):
            if not branch:
                passed += 1
                best = None
                success = matched if success is None else success
            elif passed == 0 and (best is None or matched > best[1]):
                best = (branch, matched)
        if passed != 1:
            found = "Found none valid" if passed == 0 else f"Found {passed} valid alternatives"
            errs.append(_composite(f"{where} must validate one and only one schema (oneOf). {found}"))
            if best is not None:
                errs.extend(best[0])
                count += best[1]
        elif success is not None:
            count += success
    all_of = [x for x in s.get("allOf") or () if isinstance(x, dict)]
    if all_of:
        results = _alternatives(all_of, data, path)
        for branch, matched in results:
            errs.extend(branch)
            count += matched
        passed = sum(not branch for branch, _ in results)
        if passed != len(all_of):
            none = ". None validated" if passed == 0 else ""
            errs.append(_composite(f"{where} must validate all the schemas (allOf){none}"))
    if isinstance(s.get("not"), dict) and not _alternatives([s["not"]], data, path)[0][0]:
        errs.append(_composite(f"{where} must not validate the schema (not)"))
    return count


def _validate(s: Schema, data: Any, path: str, corr: Corr | None, errs: list[Error]) -> int:
    mark = len(errs)
    if data is None:
        count = _type(s, None, path, errs)
        _enum(s, None, path, errs)
    else:
        sch = _json_type(data)[0]
        count = 3  # the allOf/anyOf/oneOf/not and enum checks always apply, and the value itself counts
        fmt = format_of(s)
        if fmt or types_of(s):
            count += 1 + _type(s, data, path, errs)
        count += _schema_props(s, data, path, errs)
        if sch == "string":
            count += 1
            _string(s, data, path, errs)
            if fmt:
                count += 1
                if not strformats.check(fmt, data):
                    errs.append(_invalid_type(path, fmt, data))
        elif sch in ("integer", "number"):
            count += 2
            _number(s, data, path, errs)
        elif sch == "array":
            count += 1 + _slice(s, data, path, corr, errs)
        _enum(s, data, path, errs)
        if sch == "object":
            count += 1 + _object(s, data, path, corr, errs)
    if corr is not None and len(errs) > mark and corr.equal():
        del errs[mark:]  # ratcheting: unchanged values keep their old errors silently
    return count


def validate(schema: Schema, data: Any, old: Any = None, *, ratchet: bool = False) -> list[Error]:
    """The errors of ``data`` against ``schema`` (unique by message, in order); with ``ratchet``,
    errors in values equal to those they replace in ``old`` are left out."""
    errs: list[Error] = []
    _validate(schema, data, "", Corr(data, old, schema) if ratchet else None, errs)
    seen: set[str] = set()
    out = []
    for e in errs:
        if e.message not in seen:
            seen.add(e.message)
            out.append(e)
    return out
