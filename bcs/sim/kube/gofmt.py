"""How Go's ``fmt`` prints decoded JSON values: the apiserver's messages use ``%v``, ``%#v`` and ``%q``.

Decoded JSON in Go is ``map[string]interface{}``, ``[]interface{}``, ``string``, ``int64``, ``float64``,
``bool`` or ``nil``; Python's ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None`` stand
for them here.
"""

from __future__ import annotations

import decimal
import math
from typing import Any

__all__ = ["field_value", "float_v", "quote", "sharp_v", "v"]

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def quote(s: str) -> str:
    """``strconv.Quote``: a double-quoted Go string literal (printable runes kept as they are)."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def float_v(f: float) -> str:
    """``%v`` (``%g``, shortest) of a float64: exponent form below 1e-4 and from 1e6."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    if f == 0:
        return sign + "0"
    _, digit_tuple, exponent = decimal.Decimal(repr(abs(f))).as_tuple()
    sig = "".join(map(str, digit_tuple)).rstrip("0")
    exp = len(digit_tuple) + int(exponent) - 1  # decimal exponent of the first digit
    sig = sig.lstrip("0") or "0"
    if exp < -4 or exp >= 6:
        tail = "." + sig[1:] if len(sig) > 1 else ""
        return f"{sign}{sig[0]}{tail}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{sig}"
    if len(sig) <= exp + 1:
        return f"{sign}{sig}{'0' * (exp + 1 - len(sig))}"
    return f"{sign}{sig[: exp + 1]}.{sig[exp + 1 :]}"


def v(x: Any) -> str:
    """``%v``: maps as ``map[k:v]`` (keys sorted), lists as ``[a b]``, nil as ``<nil>``."""
    if isinstance(x, dict):
        return "map[" + " ".join(f"{k}:{v(x[k])}" for k in sorted(x)) + "]"
    if isinstance(x, list):
        return "[" + " ".join(v(i) for i in x) + "]"
    if x is None:
        return "<nil>"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return float_v(x)
    return str(x)


def sharp_v(x: Any) -> str:
    """``%#v`` of a value held in an ``interface{}``."""
    if isinstance(x, dict):
        items = ", ".join(f"{quote(str(k))}:{_sharp_elem(x[k])}" for k in sorted(x))
        return "map[string]interface {}{" + items + "}"
    if isinstance(x, list):
        return "[]interface {}{" + ", ".join(_sharp_elem(i) for i in x) + "}"
    if isinstance(x, str):
        return quote(x)
    if x is None:
        return "<nil>"
    return v(x)


def _sharp_elem(x: Any) -> str:
    return "interface {}(nil)" if x is None else sharp_v(x)


def field_value(x: Any) -> str:
    """How a field error prints its bad value (``Invalid value: <this>``)."""
    if x is None:
        return '"null"'
    if isinstance(x, str):
        return quote(x)
    if isinstance(x, (bool, int, float)):
        return v(x)
    return sharp_v(x)
