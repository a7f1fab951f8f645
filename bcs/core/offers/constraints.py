"""The bk-bcs constraint language (AND of ORs) and the per-application counts it is judged against.

``constraint.intersectionItem[]`` is an AND of items, each item's ``unionData[]`` an OR of rules.
Rules read one attribute of the offer (``hostname`` always exists); a missing attribute does not fit.
Counting operators (UNIQUE, MAXPER, GROUPBY) and EXCLUDE read :class:`Index`, which keeps counts per
(application, attribute, value) and per (agent, label), updated as taskgroups come and go, so judging
an offer costs O(rules), never a scan over running taskgroups.

Taints: an agent whose ``NoSchedule`` attribute is set (text ``k=v`` or a set of them) is refused
unless the application carries a TOLERATION rule named ``k`` (with text ``v``, or no value for any).
"""

from __future__ import annotations

import collections
import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from bcs import errors
from bcs.core.offers import model

__all__ = ["OPERATORS", "TAINT", "Constraint", "Index", "Rule", "fits", "parse"]

OPERATORS = ("UNIQUE", "MAXPER", "CLUSTER", "LIKE", "UNLIKE", "GROUPBY", "EXCLUDE", "GREATER", "TOLERATION")
TAINT = "NoSchedule"
_TYPES = {1: "scalar", 3: "text", 4: "set"}


@attrs.frozen
class Rule:
    name: str
    operate: str
    text: str | None = None
    scalar: float | None = None
    items: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Constraint:
    """AND over ``items``, OR inside each item; ``tolerations`` are the TOLERATION rules, apart."""

    items: tuple[tuple[Rule, ...], ...] = ()
    tolerations: tuple[Rule, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.items and not self.tolerations


def _rule(data: Any, where: str) -> Rule:
    if not isinstance(data, Mapping):
        raise errors.BadRequest(f"{where} must be an object")
    name, op = data.get("name"), data.get("operate")
    if not isinstance(name, str) or not name:
        raise errors.BadRequest(f"{where}.name must be a non-empty string")
    if op not in OPERATORS:
        raise errors.BadRequest(f"{where}.operate must be one of {', '.join(OPERATORS)}, not {op!r}")
    kind = _TYPES.get(data.get("type"), "")
    text = (data.get("text") or {}).get("value") if isinstance(data.get("text"), Mapping) else None
    scalar = (data.get("scalar") or {}).get("value") if isinstance(data.get("scalar"), Mapping) else None
    raw_items = (data.get("set") or {}).get("item") if isinstance(data.get("set"), Mapping) else None
    items = tuple(str(i) for i in raw_items or ())
    if (kind == "text" and text is None) or (kind == "set" and raw_items is None):
        raise errors.BadRequest(f"{where}.{kind} is required by type {data.get('type')}")
    if op == "MAXPER":
        if text is None or not str(text).isdigit() or int(text) < 1:
            raise errors.BadRequest(f"{where}.text.value must be a positive integer for MAXPER")
    elif op == "GREATER":
        if not isinstance(scalar, (int, float)):
            raise errors.BadRequest(f"{where}.scalar.value must be a number for GREATER")
    elif op in ("CLUSTER", "LIKE", "UNLIKE") and text is None and not items:
        raise errors.BadRequest(f"{where} needs a text or set value for {op}")
    elif op in ("GROUPBY", "EXCLUDE") and not items:
        raise errors.BadRequest(f"{where}.set.item must list values for {op}")
    pattern = None
    if op in ("LIKE", "UNLIKE"):
        pattern = _compile([text] if text is not None else list(items), where)
    return Rule(
        name=name,
        operate=op,
        text=None if text is None else str(text),
        scalar=None if scalar is None else float(scalar),
        items=items,
        pattern=pattern,
    )


def _compile(values: list[Any], where: str) -> re.Pattern[str]:
    # A value is a regular expression; a glob ("web-*") works too because it is also translated.
    parts = []
    for v in values:
        try:
            re.compile(str(v))
        except re.error as e:
            raise errors.BadRequest(f"{where}: invalid regular expression {v!r}: {e}") from None
        parts.append(f"(?:{v})|(?:{fnmatch.translate(str(v))})")
    return re.compile("|".join(parts))


def parse(data: Any, *, where: str = "constraint") -> Constraint:
    """The upstream JSON ``{"intersectionItem": [{"unionData": [...]}]}``; errors name the field."""
    if data is None or data == {}:
        return Constraint()
    if not isinstance(data, Mapping):
        raise errors.BadRequest(f"{where} must be an object")
    items = data.get("intersectionItem") or []
    if not isinstance(items, list):
        raise errors.BadRequest(f"{where}.intersectionItem must be a list")
    ands: list[tuple[Rule, ...]] = []
    tolerations: list[Rule] = []
    for i, item in enumerate(items):
        union = item.get("unionData") if isinstance(item, Mapping) else None
        if not isinstance(union, list) or not union:
            raise errors.BadRequest(f"{where}.intersectionItem[{i}].unionData must be a non-empty list")
        rules = [_rule(r, f"{where}.intersectionItem[{i}].unionData[{j}]") for j, r in enumerate(union)]
        tolerations += [r for r in rules if r.operate == "TOLERATION"]
        ors = tuple(r for r in rules if r.operate != "TOLERATION")
        if ors:
            ands.append(ors)
    return Constraint(items=tuple(ands), tolerations=tuple(tolerations))


class Index:
    """Live taskgroups counted by (group, attribute, value), and labels per agent (for EXCLUDE)."""

    def __init__(self) -> None:
        self._counts: dict[str, collections.Counter[tuple[str, Any]]] = {}
        self._totals: collections.Counter[str] = collections.Counter()
        self._labels: dict[str, dict[str, collections.Counter[str]]] = {}  # agent -> "k:v" -> groups
        self._placed: dict[str, tuple[str, str, list[tuple[str, Any]], list[str]]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._placed

    def __len__(self) -> int:
        return len(self._placed)

    def add(
        self,
        key: str,
        *,
        group: str,
        agent_id: str,
        attributes: Mapping[str, model.AttrValue],
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Count taskgroup ``key`` of ``group`` on an agent with ``attributes`` (idempotent)."""
        if key in self._placed:
            return
        pairs = [(n, _hashable(v)) for n, v in attributes.items()]
        counts = self._counts.setdefault(group, collections.Counter())
        counts.update(pairs)
        self._totals[group] += 1
        kvs = [f"{k}:{v}" for k, v in (labels or {}).items()]
        on_agent = self._labels.setdefault(agent_id, {})
        for kv in kvs:
            on_agent.setdefault(kv, collections.Counter())[group] += 1
        self._placed[key] = (group, agent_id, pairs, kvs)

    def remove(self, key: str) -> None:
        placed = self._placed.pop(key, None)
        if placed is None:
            return
        group, agent_id, pairs, kvs = placed
        counts = self._counts[group]
        counts.subtract(pairs)
        for p in pairs:
            if counts[p] <= 0:
                del counts[p]
        self._totals[group] -= 1
        for kv in kvs:
            groups = self._labels[agent_id][kv]
            groups[group] -= 1
            if groups[group] <= 0:
                del groups[group]

    def count(self, group: str, name: str, value: model.AttrValue) -> int:
        return self._counts.get(group, {}).get((name, _hashable(value)), 0)

    def total(self, group: str) -> int:
        return self._totals[group]

    def others_with_label(self, agent_id: str, kv: str, group: str) -> bool:
        groups = self._labels.get(agent_id, {}).get(kv)
        return bool(groups) and any(g != group for g in groups)


def _hashable(value: Any) -> Any:
    return value if not isinstance(value, (list, set)) else frozenset(value)


def _values(value: model.AttrValue) -> Iterable[str]:
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, float) and value.is_integer():
        return (str(int(value)), str(value))
    return (str(value),)


def _rule_fits(rule: Rule, offer: model.Offer, group: str, index: Index) -> bool:
    op = rule.operate
    if op == "EXCLUDE":
        return not any(index.others_with_label(offer.agent_id, kv, group) for kv in rule.items)
    value = offer.attributes.get(rule.name)
    if value is None:
        return False
    if op == "UNIQUE":
        return index.count(group, rule.name, value) == 0
    if op == "MAXPER":
        return index.count(group, rule.name, value) < int(rule.text or 0)
    if op == "CLUSTER":
        wanted = {rule.text} if rule.text is not None else set(rule.items)
        return any(v in wanted for v in _values(value))
    if op in ("LIKE", "UNLIKE"):
        assert rule.pattern is not None
        hit = any(rule.pattern.fullmatch(v) for v in _values(value))
        return hit if op == "LIKE" else not hit
    if op == "GROUPBY":
        if not any(v in rule.items for v in _values(value)):
            return False
        limit = math.ceil((index.total(group) + 1) / len(rule.items))
        return index.count(group, rule.name, value) < limit
    if op == "GREATER":
        return isinstance(value, float) and rule.scalar is not None and value > rule.scalar
    return False


def _tolerated(offer: model.Offer, constraint: Constraint | None) -> bool:
    taint = offer.attributes.get(TAINT)
    if taint is None:
        return True
    taints = [t.partition("=") for t in _values(taint)]
    tolerations = constraint.tolerations if constraint is not None else ()
    return all(
        any(r.name == k and (r.text is None or r.text == v) for r in tolerations) for k, _, v in taints
    )


def fits(constraint: Constraint | None, offer: model.Offer, group: str, index: Index) -> bool:
    """Whether ``offer`` satisfies ``constraint`` for one more taskgroup of ``group``."""
    if not _tolerated(offer, constraint):
        return False
    if constraint is None:
        return True
    return all(any(_rule_fits(r, offer, group, index) for r in ors) for ors in constraint.items)
