"""JSON paths into a structural schema (``cel.ValidFieldPath``): CRD ``selectableFields`` and the
``fieldPath`` of ``x-kubernetes-validations`` rules.

A path is ``.name`` steps and, where allowed, ``['key']`` steps; it must name declared properties
(or keys of an ``additionalProperties`` map). ``resolve`` answers the schema found, the error text
(``does not refer to a valid field``, ``array notation is not allowed``, …) and the path as
``field.Path`` prints it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["resolve"]

Schema = dict[str, Any]


def _tokens(path: str) -> list[str]:
    """The scanner upstream uses: ``.``, ``[`` and ``]`` alone, quoted strings whole, the rest between."""
    out: list[str] = []
    i, n = 0, len(path)
    while i < n:
        if path[i] == "'":
            j = i + 1
            while j < n and not (path[j] == "'" and path[j - 1] != "\\"):
                j += 1
            out.append(path[i : j + 1])
            i = j + 1
        elif path[i] in ".[]":
            out.append(path[i])
            i += 1
        else:
            j = i
            while j < n and path[j] not in ".[]":
                j += 1
            out.append(path[i:j])
            i = j
    return out


def _step(schema: Schema | None, name: str) -> tuple[Schema | None, bool, str]:
    """(schema of ``name``, whether it is a property, error)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(props, dict) and props:
        sub = props.get(name)
        return (sub, True, "") if isinstance(sub, dict) else (None, True, "does not refer to a valid field")
    addl = schema.get("additionalProperties") if isinstance(schema, dict) else None
    if addl is not None:
        return (addl if isinstance(addl, dict) else None), False, ""
    return None, False, "does not refer to a valid field"


def resolve(path: str, schema: Schema, *, arrays: bool = True) -> tuple[Schema | None, str, str]:
    """(the schema ``path`` names, the error ("" if none), the path as ``field.Path`` prints it)."""
    tokens = _tokens(path)
    shown = ""
    current: Schema | None = schema
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "[":
            if not arrays:
                return None, "array notation is not allowed", shown
            if i + 1 >= len(tokens):
                return None, "unexpected end of JSON path", shown
            quoted = tokens[i + 1]
            if len(quoted) < 2 or quoted[0] != "'" or quoted[-1] != "'":
                return None, f"expected single quoted string but got {quoted}", shown
            name = quoted[1:-1].replace("\\'", "'").replace("\\\\", "\\")
            i += 2
            if i >= len(tokens):
                return None, "unexpected end of JSON path", shown
            if tokens[i] != "]":
                return None, f"expected ] but got {tokens[i]}", shown
        elif tok == ".":
            if i + 1 >= len(tokens):
                return None, "unexpected end of JSON path", shown
            name = tokens[i + 1]
            i += 1
        else:
            return None, f"expected [ or . but got: {tok}", shown
        current, named, err = _step(current, name)
        if err:
            return None, err, shown
        shown = (f"{shown}.{name}" if shown else name) if named else f"{shown}[{name}]"
        i += 1
    return current, "", shown
