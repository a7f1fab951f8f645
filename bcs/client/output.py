"""How the client prints answers: a table by default, or ``-o json`` / ``-o yaml`` of the data."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import yaml

__all__ = ["FORMATS", "Column", "render", "table"]

FORMATS = ("table", "json", "yaml")
# A column: its header, and how to read its cell from one object.
Column = tuple[str, Callable[[dict[str, Any]], Any]]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return str(value) if value != "" else "-"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    cells = [[header for header, _ in columns]] + [[_cell(get(row)) for _, get in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(lines) + "\n"


def render(data: Any, *, fmt: str, columns: Sequence[Column], out: TextIO | None = None) -> None:
    """Print ``data`` (an object or a list of them) as ``fmt``."""
    out = sys.stdout if out is None else out
    if fmt == "json":
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "yaml":
        out.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        rows = data if isinstance(data, list) else [data]
        out.write(table(rows, columns))
