"""Field checks for submitted Mesos objects: each error is a BadRequest naming the field by its JSON
path (``invalid spec.instance: must be an integer, not 'x'``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bcs import errors

__all__ = ["bad", "integer", "listing", "obj", "quantity", "seconds", "str_map"]


def bad(path: str, why: str) -> errors.BadRequest:
    return errors.BadRequest(f"invalid {path}: {why}")


def obj(data: Any, path: str, *, required: bool = True) -> Mapping[str, Any]:
    if data is None and not required:
        return {}
    if not isinstance(data, Mapping):
        raise bad(path, "must be an object")
    return data


def listing(data: Any, path: str) -> list[Any]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise bad(path, "must be a list")
    return data


def integer(data: Any, path: str, *, default: int = 0, low: int = 0) -> int:
    if data is None:
        return default
    if isinstance(data, bool) or not isinstance(data, int):
        raise bad(path, f"must be an integer, not {data!r}")
    if data < low:
        raise bad(path, f"must be >= {low}, not {data}")
    return data


def quantity(data: Any, path: str) -> float:
    """cpu / memory / storage: a number or a numeric string ("0.5", "512")."""
    if data is None or data == "":
        return 0.0
    try:
        value = float(data)
    except (TypeError, ValueError):
        raise bad(path, f"must be a number, not {data!r}") from None
    if value < 0:
        raise bad(path, f"must not be negative, not {data!r}")
    return value


def seconds(data: Any, path: str, *, default: float) -> float:
    """A duration in seconds: a non-negative number (upstream writes integers; fractions are kept)."""
    if data is None:
        return default
    if isinstance(data, bool) or not isinstance(data, int | float) or data < 0:
        raise bad(path, f"must be a non-negative number of seconds, not {data!r}")
    return float(data)


def str_map(data: Any, path: str) -> dict[str, str]:
    out = obj(data, path, required=False)
    for k, v in out.items():
        if not isinstance(v, str):
            raise bad(f"{path}.{k}", "must be a string")
    return dict(out)
