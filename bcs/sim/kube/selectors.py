"""Label and field selectors: the query-string grammar and the ``LabelSelector`` object form.

A parsed selector is a tuple of requirements ``(key, op, values)`` with op one of ``=``, ``!=``,
``in``, ``notin``, ``exists``, ``!``; matching takes a plain ``dict`` of labels (or field values).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bcs.sim.kube import status

__all__ = [
    "Requirement",
    "from_label_selector",
    "matches",
    "parse_fields",
    "parse_labels",
    "to_string",
]

Requirement = tuple[str, str, tuple[str, ...]]

_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*")
_CMP_RE = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s,]*)\s*")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*")
_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def parse_labels(text: str) -> tuple[Requirement, ...]:
    """Parse ``a=b,c!=d,e in (f,g),!h,i``; raises a 400 ``ApiError`` on bad syntax."""
    reqs: list[Requirement] = []
    rest = text.strip()
    while rest:
        m = _SET_RE.match(rest)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((m.group(1), m.group(2), values))
        else:
            m = _CMP_RE.match(rest)
            if m:
                op = "!=" if m.group(2) == "!=" else "="
                reqs.append((m.group(1), op, (m.group(3),)))
            else:
                m = _EXISTS_RE.match(rest)
                if not m:
                    raise status.bad_request(f"unable to parse requirement: {rest!r}")
                reqs.append((m.group(2), "!" if m.group(1) else "exists", ()))
        rest = rest[m.end() :]
        if rest.startswith(","):
            rest = rest[1:]
        elif rest.strip():
            raise status.bad_request(f"unable to parse requirement: found '{rest.strip()}', expected: ','")
    for key, _, _ in reqs:
        if not _KEY_RE.match(key):
            raise status.bad_request(f"unable to parse requirement: invalid label key {key!r}")
    return tuple(reqs)


def parse_fields(text: str) -> tuple[Requirement, ...]:
    """Parse ``metadata.name=x,status.phase!=Running`` (field selectors allow only =, ==, !=)."""
    reqs: list[Requirement] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "!=" in part:
            key, _, value = part.partition("!=")
            reqs.append((key.strip(), "!=", (value.strip(),)))
        elif "==" in part:
            key, _, value = part.partition("==")
            reqs.append((key.strip(), "=", (value.strip(),)))
        elif "=" in part:
            key, _, value = part.partition("=")
            reqs.append((key.strip(), "=", (value.strip(),)))
        else:
            raise status.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
    return tuple(reqs)


def from_label_selector(sel: Mapping[str, Any] | None) -> tuple[Requirement, ...] | None:
    """The requirements of a ``LabelSelector`` object; ``None`` (no selector) matches nothing."""
    if sel is None:
        return None
    reqs: list[Requirement] = [(k, "=", (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise status.bad_request(f"{expr.get('operator')!r} is not a valid label selector operator")
        reqs.append((expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return tuple(reqs)


def matches(reqs: tuple[Requirement, ...], labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    for key, op, values in reqs:
        present = key in labels
        if op == "=":
            if not present or labels[key] != values[0]:
                return False
        elif op == "!=":
            if present and labels[key] == values[0]:
                return False
        elif op == "in":
            if not present or labels[key] not in values:
                return False
        elif op == "notin":
            if present and labels[key] in values:
                return False
        elif op == "exists":
            if not present:
                return False
        elif present:  # "!"
            return False
    return True


def to_string(sel: Mapping[str, Any] | None) -> str:
    """The query-string form of a ``LabelSelector`` (used by Scale.status.selector and tables)."""
    parts: list[str] = []
    for key, op, values in from_label_selector(sel) or ():
        if op == "=":
            parts.append(f"{key}={values[0]}")
        elif op in ("in", "notin"):
            parts.append(f"{key} {op} ({','.join(sorted(values))})")
        elif op == "exists":
            parts.append(key)
        else:
            parts.append(f"!{key}")
    return ",".join(parts)
