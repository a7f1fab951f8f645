"""Conditions compiled to MongoDB filters (and aggregation ``$match`` stages), one to one.

Keys are escaped with :func:`port.escape_key`; a path is its escaped keys joined with dots.
"""

from __future__ import annotations

from typing import Any

import bson

from bcs.storage.store import conditions, port

__all__ = ["IN_CHUNK", "LIVE", "dotted", "filter_of", "split", "stages", "undotted", "where"]

LIVE = {port.DELETED: {"$ne": True}}
IN_CHUNK = 32  # values per `$in` sent (see split)
_SPLITTABLE = frozenset({*conditions.FEATURE_FIELDS, "_id"})  # fields that hold one scalar each
_PLAIN = (str, int, float, bson.ObjectId, type(None))  # values that match only themselves
_NOTHING = {"_id": {"$in": []}}  # `$or: []` is an error in Mongo; this matches no document


def dotted(path: conditions.Path) -> str:
    return ".".join(port.escape_key(p) for p in path)


def undotted(field: str) -> conditions.Path:
    return tuple(port.unescape_key(p) for p in field.split("."))


def filter_of(cond: conditions.Condition | None) -> dict[str, Any]:
    match cond:
        case None:
            return {}
        case conditions.Eq(path, value):
            return {dotted(path): value}
        case conditions.Ne(path, value):
            return {dotted(path): {"$ne": value}}
        case conditions.In(path, values):
            return {dotted(path): {"$in": list(values)}}
        case conditions.NotIn(path, values):
            return {dotted(path): {"$nin": list(values)}}
        case conditions.Exists(path, present):
            return {dotted(path): {"$exists": present}}
        case conditions.Range(path):
            return {dotted(path): {f"${op}": v for op, v in cond.bounds().items()}}
        case conditions.And(items):
            return _all_of([filter_of(c) for c in items])
        case conditions.Or(items):
            return {"$or": [filter_of(c) for c in items]} if items else dict(_NOTHING)
    raise TypeError(f"not a condition: {cond!r}")


def _operators(value: Any) -> dict[str, Any]:
    """A field's condition as operators (``{"$eq": v}`` for a plain value)."""
    if isinstance(value, dict) and value and all(k.startswith("$") for k in value):
        return value
    return {"$eq": value}


def _all_of(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One flat filter when it can say the same (servers plan those best), else ``$and``: conditions on
    one field merge into one operator document when their operators differ."""
    parts = [p for p in parts if p]
    merged: dict[str, Any] = {}
    for part in parts:
        for k, v in part.items():
            if k.startswith("$"):
                return {"$and": parts}
            if k in merged:
                if merged[k] == v:  # said twice
                    continue
                before, now = _operators(merged[k]), _operators(v)
                both = _intersection(k, before, now)
                if both is not None:
                    merged[k] = both
                    continue
                if set(before) & set(now):
                    return {"$and": parts}
                v = {**before, **now}
            merged[k] = v
    return merged


def _intersection(field: str, a: dict[str, Any], b: dict[str, Any]) -> Any:
    """Two value lists on a feature field (``$eq``/``$in``) as the one that says both, else None.

    A condition and-ed with a narrower one naming the same objects (as deletes do) so stays one flat
    filter that the key index serves. Only feature fields: the store keeps them scalar, and on an
    array field two ``$in`` may both match where their intersection does not."""
    if field not in conditions.FEATURE_FIELDS or len(a) != 1 or len(b) != 1:
        return None
    lists = []
    for ops in (a, b):
        if "$in" in ops:
            lists.append(ops["$in"])
        elif "$eq" in ops:
            lists.append([ops["$eq"]])
        else:
            return None
    allowed = {(isinstance(v, bool), v) for v in lists[1]}  # True is not 1 to Mongo
    common = [v for v in lists[0] if (isinstance(v, bool), v) in allowed]
    return common[0] if len(common) == 1 else {"$in": common}


def where(cond: conditions.Condition | None, *, include_deleted: bool = False) -> dict[str, Any]:
    return _all_of([filter_of(cond), {} if include_deleted else LIVE])


def _conjuncts(cond: conditions.Condition | None) -> list[conditions.Condition]:
    if cond is None:
        return []
    if isinstance(cond, conditions.And):
        return [c for item in cond.items for c in _conjuncts(item)]
    return [cond]


def stages(cond: conditions.Condition | None, *, include_deleted: bool) -> list[dict[str, Any]]:
    """The filter as ``$match`` stages: first the equalities on top-level fields (what indexes
    serve), then the rest. MongoDB merges them into one; some Mongo-wire servers (SecantusDB) plan
    an index only for a filter that the index covers whole, so the split keeps them off a full scan
    for every ``$ne`` on the deletion flag."""
    head, tail = [], []
    for c in _conjuncts(cond):
        plain = isinstance(c, conditions.Eq | conditions.In) and len(c.path) == 1
        (head if plain else tail).append(filter_of(c))
    first, rest = _all_of(head), _all_of([*tail, {} if include_deleted else LIVE])
    if not first:
        return [{"$match": rest}] if rest else []
    return [{"$match": first}, {"$match": rest}] if rest else [{"$match": first}]


def split(match: dict[str, Any], limit: int = IN_CHUNK) -> list[dict[str, Any]]:
    """``match`` as filters that together select the same documents, each once: its longest ``$in`` on
    a feature field (or ``_id``) cut into lists of at most ``limit`` values.

    Some Mongo-wire servers (SecantusDB) check every candidate document against the whole list, so
    one lookup of n objects costs n²: 250 names cost three times as much per object as 32. Only
    fields holding one scalar are cut, and only lists of plain values (a document then matches
    exactly one piece); values are deduplicated as MongoDB compares them (True is not 1)."""
    longest, values = None, []
    for k, v in match.items():
        in_list = k in _SPLITTABLE and isinstance(v, dict) and list(v) == ["$in"]
        if in_list and len(v["$in"]) > max(limit, len(values)):
            longest, values = k, v["$in"]
    if longest is None or not all(isinstance(x, _PLAIN) for x in values):
        return [match]
    unique = list({(isinstance(x, bool), x): x for x in values}.values())
    return [{**match, longest: {"$in": unique[i : i + limit]}} for i in range(0, len(unique), limit)]
