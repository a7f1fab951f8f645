"""Query parameters of the storage API (spec/bkbcs.md §3.3), parsed into store conditions.

Every parser raises :class:`bcs.errors.BadRequest` naming the parameter, before anything is written:
``field`` (projection), ``extra`` (base64 JSON; code 1405086 when it does not decode),
``labelSelector``, ``offset``/``limit`` (``limit`` absent or 0 ⇒ the configured default),
``updateTimeBefore`` (unix seconds or ``2006-01-02T15:04:05.000Z``) and any other ``k=v1,v2``
(``k`` IN the values; an empty value ⇒ ``k`` exists). Values come from a query string or, for POST
variants, from a JSON object whose values may also be numbers, booleans or lists.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import orjson

from bcs import errors
from bcs.storage import selectors
from bcs.storage.service import records
from bcs.storage.store import conditions as c

__all__ = [
    "BASE64_FAILED",
    "LIST_PARAMS",
    "Page",
    "Params",
    "decode_extra",
    "extra_conditions",
    "from_json",
    "from_query",
    "generic_conditions",
    "page",
    "parse_fields",
    "parse_int",
    "parse_time",
    "path",
]

BASE64_FAILED = 1405086  # upstream "base64 decode failed"
LIST_PARAMS = frozenset({"field", "extra", "labelSelector", "offset", "limit", "updateTimeBefore"})
_FULLWIDTH_DOT = "\uff0e"  # upstream's way to write a literal dot in an `extra` key

# Parameters as name -> values (a query string's repeated keys, or a JSON body's lists).
Params = Mapping[str, Sequence[Any]]


def from_query(query: Mapping[str, str] | Any) -> dict[str, list[Any]]:
    """A request's query (a MultiDict) as :data:`Params`."""
    out: dict[str, list[Any]] = {}
    for k, v in query.items():
        out.setdefault(k, []).append(v)
    return out


def from_json(body: object) -> dict[str, list[Any]]:
    """A POST body (a JSON object) as :data:`Params`."""
    if not isinstance(body, Mapping):
        raise errors.BadRequest("the request body must be a JSON object of query parameters")
    return {k: list(v) if isinstance(v, list) else [v] for k, v in body.items()}


def one(params: Params, name: str) -> Any | None:
    """The single value of ``name`` (None when absent); BadRequest when given twice."""
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise errors.BadRequest(f"parameter {name} is given {len(values)} times")
    return values[0]


def values(params: Params, name: str) -> list[Any]:
    """Every value of ``name``; strings are split on commas (``k=a,b`` and ``k=a&k=b`` agree)."""
    out: list[Any] = []
    for v in params.get(name, ()):
        if isinstance(v, str):
            out += [p for p in (s.strip() for s in v.split(",")) if p]
        elif isinstance(v, list):
            out += v
        else:
            out.append(v)
    return out


def path(text: str, what: str) -> c.Path:
    try:
        return c.to_path(text)
    except ValueError as e:
        raise errors.BadRequest(f"{what}: {e}") from None


def parse_int(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise errors.BadRequest(f"parameter {name} must be an integer, not {value!r}")
    try:
        number = int(value) if isinstance(value, int | str) else int(str(value))
    except ValueError:
        raise errors.BadRequest(f"parameter {name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise errors.BadRequest(f"parameter {name} must be >= {minimum}, not {number}")
    return number


def parse_fields(value: object) -> tuple[c.Path, ...]:
    """``field=a,b.c`` as projection paths."""
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(path(str(f).strip(), "parameter field") for f in items if str(f).strip())


def parse_time(name: str, value: object) -> datetime.datetime:
    """Unix seconds, or ``2006-01-02T15:04:05.000Z`` (fraction optional)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return records.unix_time(value, f"parameter {name}")
    text = str(value).strip()
    try:
        return records.unix_time(float(text), f"parameter {name}")
    except ValueError:
        pass
    for layout in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.datetime.strptime(text, layout).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
    raise errors.BadRequest(
        f"parameter {name} must be unix seconds or 2006-01-02T15:04:05.000Z, not {text!r}"
    )


def decode_extra(value: object, name: str = "extra") -> dict[str, Any]:
    """The JSON object inside a base64 parameter (standard or URL alphabet, padding optional)."""
    # A "+" that reached us unencoded was decoded as a space; spaces are never base64.
    text = str(value).strip().replace(" ", "+")
    altchars = b"-_" if "-" in text or "_" in text else None  # the URL-safe alphabet
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as e:
        raise errors.BadRequest(f"parameter {name} is not base64: {e}", code=BASE64_FAILED) from None
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise errors.BadRequest(f"parameter {name} is not base64 of JSON: {e}", code=BASE64_FAILED) from None
    if not isinstance(decoded, dict):
        raise errors.BadRequest(f"parameter {name} must encode a JSON object", code=BASE64_FAILED)
    return decoded


def extra_conditions(extra: Mapping[str, Any], name: str = "extra") -> list[c.Condition]:
    """Equality conditions: nested keys join into paths, ``a.b`` keys split, U+FF0E is a literal dot."""
    out: list[c.Condition] = []
    for key, value in extra.items():
        out += _flatten(_split(key, name), value, name)
    return out


def _split(key: str, name: str) -> c.Path:
    parts = tuple(p.replace(_FULLWIDTH_DOT, ".") for p in key.split("."))
    if "" in parts:
        raise errors.BadRequest(f"parameter {name}: invalid key {key!r}")
    return parts


def _flatten(prefix: c.Path, value: Any, name: str) -> list[c.Condition]:
    if isinstance(value, Mapping):  # nested keys join into a path (an empty object adds nothing)
        out: list[c.Condition] = []
        for k, v in value.items():
            out += _flatten((*prefix, *_split(k, name)), v, name)
        return out
    if isinstance(value, list):
        if not all(_is_scalar(v) for v in value):
            raise errors.BadRequest(f"parameter {name}: {c.dotted(prefix)} must list scalars")
        return [c.In(prefix, value)]
    if not _is_scalar(value):
        raise errors.BadRequest(f"parameter {name}: unsupported value at {c.dotted(prefix)}")
    return [c.Eq(prefix, value)]


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def generic_conditions(params: Params, *, skip: Iterable[str] = LIST_PARAMS) -> list[c.Condition]:
    """``k=v1,v2`` → ``k`` IN (v1, v2); ``k=`` → ``k`` exists. Keys are dotted document paths."""
    skipped = set(skip)
    out: list[c.Condition] = []
    for key in params:
        if key in skipped:
            continue
        p = path(key, f"parameter {key}")
        vals = values(params, key)
        out.append(c.In(p, vals) if vals else c.Exists(p))
    return out


@attrs.frozen
class Page:
    """What a list request asks for: the condition parts, projection and page."""

    where: tuple[c.Condition, ...]
    fields: tuple[c.Path, ...]
    offset: int
    limit: int

    def query(self, *base: c.Condition | None) -> c.Query:
        parts = [p for p in (*base, *self.where) if p is not None]
        return c.Query(c.And(*parts), fields=self.fields, offset=self.offset, limit=self.limit)

    def condition(self, *base: c.Condition | None) -> c.Condition:
        return c.And(*[p for p in (*base, *self.where) if p is not None])


def page(params: Params, *, default_limit: int, generic: bool = True, skip: Iterable[str] = ()) -> Page:
    """The generic list parameters of §3.3 (plus ``k=v`` filters unless ``generic`` is False)."""
    where: list[c.Condition] = []
    if (text := one(params, "extra")) is not None:
        where += extra_conditions(decode_extra(text))
    if (text := one(params, "labelSelector")) is not None:
        where.append(selectors.parse(str(text)))
    if (text := one(params, "updateTimeBefore")) is not None:
        where.append(c.Range("updateTime", lt=parse_time("updateTimeBefore", text)))
    if generic:
        where += generic_conditions(params, skip=LIST_PARAMS | set(skip))
    field = one(params, "field")
    offset = one(params, "offset")
    limit = one(params, "limit")
    return Page(
        where=tuple(where),
        fields=parse_fields(field) if field is not None else (),
        offset=parse_int("offset", offset) if offset not in (None, "") else 0,
        limit=(parse_int("limit", limit) if limit not in (None, "") else 0) or default_limit,
    )
