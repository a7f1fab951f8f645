"""Kubernetes-style JSONPath templates (``{$.age}``, ``{.items[*].name}``) rendered to a string.

A template is literal text with ``{expression}`` parts, as in ``kubectl -o jsonpath``. Each expression is
evaluated with jsonpath-ng (extended syntax: filters such as ``[?(@.ready==true)]``); its matches are
printed the way kubectl prints them (strings raw, other values as compact JSON) and joined by spaces.
``range``/``end`` blocks are not supported.
"""

from __future__ import annotations

import json
from typing import Any

from jsonpath_ng import ext as jp_ext

__all__ = ["JsonPathError", "render"]


class JsonPathError(ValueError):
    """The template is malformed or an expression cannot be parsed."""


def _split(template: str) -> list[tuple[bool, str]]:
    """(is_expression, text) parts of a template."""
    parts: list[tuple[bool, str]] = []
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            parts.append((False, template[i:]))
            break
        if start > i:
            parts.append((False, template[i:start]))
        end = template.find("}", start)
        if end < 0:
            raise JsonPathError(f"unclosed action in jsonPath {template!r}")
        parts.append((True, template[start + 1 : end].strip()))
        i = end + 1
    return parts


def _format(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"))


def render(template: str, data: Any) -> str:
    """The text ``template`` yields for ``data``; an expression matching nothing renders as ""."""
    if "{" not in template:
        template = "{" + template + "}"  # a bare expression such as ``$.age`` is accepted too
    out = []
    for is_expr, text in _split(template):
        if not is_expr:
            out.append(text)
            continue
        expr = (
            text
            if text.startswith("$")
            else "$" + ("" if text.startswith((".", "[")) or not text else ".") + text
        )
        try:
            matches = jp_ext.parse(expr).find(data)
        except Exception as e:  # jsonpath-ng raises bare Exceptions for some syntax errors
            raise JsonPathError(f"invalid jsonPath {text!r}: {e}") from e
        out.append(" ".join(_format(m.value) for m in matches))
    return "".join(out)
