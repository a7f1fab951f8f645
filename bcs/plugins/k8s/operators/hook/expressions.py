"""Safe evaluation of ``successCondition``/``failureCondition`` (bk-bcs uses expr-lang; we use simpleeval).

Upstream templates are written in expr-lang: ``result == "1"``, ``asInt(result) >= 3``,
``asFloat(result) < 0.01``, ``result[0] > 0.9``, ``len(result) > 0``, joined with ``&&``, ``||`` and
``!``. :func:`translate` rewrites the three C-style operators (outside string literals) into Python's
``and``/``or``/``not`` and ``true``/``false``/``nil`` into names; :func:`evaluate` then runs the
expression with simpleeval, which walks the AST with a whitelist of nodes (no attribute access to
dunders, no imports, no ``eval``). The environment is ``result`` plus ``asInt``, ``asFloat`` and
``len``. A condition must yield a boolean.
"""

from __future__ import annotations

import math
from typing import Any

import simpleeval

__all__ = ["ExpressionError", "evaluate", "translate", "as_int", "as_float"]

_MAX_LENGTH = 1000  # characters; conditions are one-liners


class ExpressionError(ValueError):
    """The condition is malformed, fails to evaluate, or does not yield a boolean."""


def as_int(value: Any) -> int:
    """expr-lang's ``asInt``: a string (or number) holding an integer."""
    if isinstance(value, bool):
        raise ExpressionError(f"asInt: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ExpressionError(f"asInt: {value!r} is not an integer") from None


def as_float(value: Any) -> float:
    """expr-lang's ``asFloat``: a string (or number) holding a float."""
    if isinstance(value, bool):
        raise ExpressionError(f"asFloat: {value!r} is not a number")
    try:
        return float(value if isinstance(value, (int, float)) else str(value).strip())
    except ValueError:
        raise ExpressionError(f"asFloat: {value!r} is not a number") from None


def translate(expr: str) -> str:
    """Rewrite expr-lang's ``&&``, ``||``, ``!`` (not ``!=``) outside string literals into Python."""
    out: list[str] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "\"'`":
            j = i + 1
            while j < n and expr[j] != ch:
                j += 2 if expr[j] == "\\" else 1
            literal = expr[i : j + 1]
            # expr-lang backquotes are raw strings; Python has none such, so re-quote them.
            out.append(repr(literal[1:-1]) if ch == "`" else literal)
            i = j + 1
        elif expr.startswith("&&", i):
            out.append(" and ")
            i += 2
        elif expr.startswith("||", i):
            out.append(" or ")
            i += 2
        elif ch == "!" and not expr.startswith("!=", i):
            out.append(" not ")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def evaluate(expr: str, result: Any) -> bool:
    """Evaluate ``expr`` with ``result`` bound; raise :class:`ExpressionError` unless it yields a bool."""
    if len(expr) > _MAX_LENGTH:
        raise ExpressionError(f"condition longer than {_MAX_LENGTH} characters")
    evaluator = simpleeval.SimpleEval(
        names={"result": result, "true": True, "false": False, "nil": None, "NaN": math.nan},
        functions={"asInt": as_int, "asFloat": as_float, "len": len},
    )
    try:
        value = evaluator.eval(translate(expr))
    except ExpressionError:
        raise
    except Exception as e:  # simpleeval raises many kinds (NameNotDefined, SyntaxError, TypeError...)
        raise ExpressionError(f"cannot evaluate {expr!r}: {e}") from e
    if not isinstance(value, bool):
        raise ExpressionError(f"condition {expr!r} returned {type(value).__name__}, not a boolean")
    return value
