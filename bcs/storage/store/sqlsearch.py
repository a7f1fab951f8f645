"""Conditions and sorts compiled to SQL over a JSON1 ``doc`` column, with Mongo's meaning.

Comparisons are typed (``json_type`` decides), arrays match by element through ``json_each``, and a
negation (``Ne``, ``NotIn``) also matches documents without the field. Indexes are expression indexes
on :func:`index_expr` (``ifnull(json_extract(doc, path), x'00')``); a condition can use one only when
it is written on that very expression, so:

* on a top-level field that no document of the collection has ever held as an array (the adapter
  tracks these per collection and passes ``arrays``, the fields that have), equality and ``In``
  compile to ``index_expr IN (...)`` plus a type check, which SQLite serves from the index;
* anywhere else they compile to the general form (type and value, or any array element), which scans.

Everything compiled here is never NULL, so ``NOT`` gives Mongo's negations.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from typing import Any

from bcs.storage.store import conditions, port

__all__ = ["index_expr", "order_by", "where"]

_ELEMENT_DATE = "CASE WHEN j.type = 'object' THEN json_extract(j.value, '$.\"$date\"') END"
_NUMERIC = "ifnull({type}, '') IN ('integer', 'real')"
_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_MISSING = "x'00'"  # what index_expr gives for a missing field or a JSON null


def lit(path: conditions.Path, *, date: bool = False) -> str:
    """The JSON path of ``path`` as an SQL string literal (escaped keys hold no quote or backslash)."""
    text = "$" + "".join(f'."{port.escape_key(p)}"' for p in path) + ('."$date"' if date else "")
    return "'" + text.replace("'", "''") + "'"


def index_expr(path: conditions.Path) -> str:
    """The expression an index on ``path`` is built on (a missing field and null are one value)."""
    return f"ifnull(json_extract(doc, {lit(path)}), {_MISSING})"


def _millis(value: datetime.datetime) -> int:
    return (port.to_millis(value) - port.EPOCH) // datetime.timedelta(milliseconds=1)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _match_any(type_: str, value: str, date: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL true when a JSON value (its ``json_type``, SQL value and ``$date``) equals one of ``values``."""
    terms: list[str] = []
    params: list[Any] = []
    strings = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    dates = [_millis(v) for v in values if isinstance(v, datetime.datetime)]
    if any(v is None for v in values):
        terms.append(f"ifnull({type_}, 'null') = 'null'")
    for flag in {v for v in values if isinstance(v, bool)}:
        terms.append(f"{type_} IS '{'true' if flag else 'false'}'")
    for group, check in ((strings, f"{type_} IS 'text'"), (numbers, _NUMERIC.format(type=type_))):
        if group:
            terms.append(f"({check} AND {value} IN ({_marks(len(group))}))")
            params += group
    if dates:
        terms.append(f"ifnull({date} IN ({_marks(len(dates))}), 0)")
        params += dates
    return ("(" + " OR ".join(terms) + ")" if terms else "0"), params


def _scalar_in(path: conditions.Path, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``In`` on a field known never to hold an array: one indexable term per JSON type.

    ``index_expr`` gives a string for a JSON string, a number for a number, 1/0 for true/false and
    ``x'00'`` for null or missing; SQL compares those without converting between types, so each term
    is exact once the JSON type is checked."""
    expr, type_ = index_expr(path), f"json_type(doc, {lit(path)})"
    strings = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    terms: list[str] = []
    params: list[Any] = []
    for group, check in ((strings, f"{type_} IS 'text'"), (numbers, _NUMERIC.format(type=type_))):
        if group:
            terms.append(f"({expr} IN ({_marks(len(group))}) AND {check})")
            params += group
    for flag in {v for v in values if isinstance(v, bool)}:
        terms.append(f"({expr} = {int(flag)} AND {type_} IS '{'true' if flag else 'false'}')")
    if any(v is None for v in values):
        terms.append(f"{expr} = {_MISSING}")
    if not terms:
        return "0", []
    return (terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"), params


def _in(path: conditions.Path, values: Sequence[Any], arrays: Collection[str]) -> tuple[str, list[Any]]:
    plain = len(path) == 1 and port.escape_key(path[0]) not in arrays
    if plain and not any(isinstance(v, datetime.datetime) for v in values):
        return _scalar_in(path, values)
    p, date = lit(path), lit(path, date=True)
    scalar, p1 = _match_any(
        f"json_type(doc, {p})", f"json_extract(doc, {p})", f"json_extract(doc, {date})", values
    )
    if plain:
        return scalar, p1
    element, p2 = _match_any("j.type", "j.value", _ELEMENT_DATE, values)
    each = f"SELECT 1 FROM json_each(doc, {p}) AS j WHERE {element}"
    array = f"(json_type(doc, {p}) IS 'array' AND EXISTS ({each}))"
    return f"({scalar} OR {array})", p1 + p2


def _range(cond: conditions.Range) -> tuple[str, list[Any]]:
    bounds = cond.bounds()
    p = lit(cond.path)
    first = next(iter(bounds.values()))
    if isinstance(first, datetime.datetime):
        date = lit(cond.path, date=True)
        value, check = f"json_extract(doc, {date})", f"json_type(doc, {date}) IS NOT NULL"
        bounds = {op: _millis(v) for op, v in bounds.items()}
    elif isinstance(first, str):
        value, check = index_expr(cond.path), f"json_type(doc, {p}) IS 'text'"
    else:
        value, check = index_expr(cond.path), _NUMERIC.format(type=f"json_type(doc, {p})")
    terms = [f"{value} {_OPS[op]} ?" for op in bounds] + [check]
    return "(" + " AND ".join(terms) + ")", list(bounds.values())


def _sql(cond: conditions.Condition | None, arrays: Collection[str]) -> tuple[str, list[Any]]:
    match cond:
        case None:
            return "1", []
        case conditions.Eq(path, value):
            return _in(path, [value], arrays)
        case conditions.Ne(path, value):
            sql, params = _in(path, [value], arrays)
            return f"NOT {sql}", params
        case conditions.In(path, values):
            return _in(path, values, arrays)
        case conditions.NotIn(path, values):
            sql, params = _in(path, values, arrays)
            return f"NOT {sql}", params
        case conditions.Exists(path, present=True):
            return f"json_type(doc, {lit(path)}) IS NOT NULL", []
        case conditions.Exists(path, present=False):  # also said on the index expression, to use it
            return f"({index_expr(path)} = {_MISSING} AND json_type(doc, {lit(path)}) IS NULL)", []
        case conditions.Range():
            return _range(cond)
        case conditions.And(items) | conditions.Or(items):
            if not items:
                return ("1" if isinstance(cond, conditions.And) else "0"), []
            parts = [_sql(c, arrays) for c in items]
            joiner = " AND " if isinstance(cond, conditions.And) else " OR "
            return "(" + joiner.join(s for s, _ in parts) + ")", [p for _, ps in parts for p in ps]
    raise TypeError(f"not a condition: {cond!r}")


def where(
    cond: conditions.Condition | None, *, arrays: Collection[str], include_deleted: bool = False
) -> tuple[str, list[Any]]:
    """``cond`` (and, unless ``include_deleted``, "not soft-deleted") as SQL with its parameters.

    ``arrays``: the escaped top-level field names that may hold an array in some document."""
    if not include_deleted:
        cond = conditions.And(*([cond] if cond is not None else []), conditions.Ne((port.DELETED,), True))
    return _sql(cond, arrays)


def order_by(sort: Sequence[tuple[conditions.Path, int]]) -> str:
    """Mongo's order across types: missing/null, numbers, strings, objects, arrays, booleans, dates."""
    terms = []
    for path, direction in sort:
        p, date = lit(path), lit(path, date=True)
        rank = (
            f"CASE WHEN json_type(doc, {date}) IS NOT NULL THEN 6 ELSE CASE json_type(doc, {p}) "
            "WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 WHEN 'object' THEN 3 "
            "WHEN 'array' THEN 4 WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END END"
        )
        how = "ASC" if direction == 1 else "DESC"
        terms += [f"{rank} {how}", f"coalesce(json_extract(doc, {date}), json_extract(doc, {p})) {how}"]
    return ", ".join([*terms, "id ASC"])
