"""Mesos resources: named scalars, inclusive port-style ranges and sets, with the arithmetic the
master needs (add, subtract, containment) and the two JSON shapes (v1 arrays, v0 state objects).

Scalars are kept at Mesos's fixed-point precision (three decimals), so 0.1 + 0.2 contains 0.3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from bcs.sim.mesos import wire

__all__ = ["Resources", "format_ranges", "parse_ranges"]

Range = tuple[int, int]


def _fix(value: float) -> float:
    return round(value * 1000) / 1000


def _merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    out: list[list[int]] = []
    for begin, end in sorted(ranges):
        if out and begin <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([begin, end])
    return tuple((b, e) for b, e in out)


def _minus(have: tuple[Range, ...], take: tuple[Range, ...]) -> tuple[Range, ...]:
    out = list(have)
    for tb, te in take:
        nxt: list[Range] = []
        for b, e in out:
            if te < b or tb > e:
                nxt.append((b, e))
                continue
            if b < tb:
                nxt.append((b, tb - 1))
            if te < e:
                nxt.append((te + 1, e))
        out = nxt
    return tuple(out)


def _covers(have: tuple[Range, ...], want: tuple[Range, ...]) -> bool:
    return all(any(b <= wb and we <= e for b, e in have) for wb, we in want)


def parse_ranges(text: str) -> tuple[Range, ...]:
    """``"31000-32000"``, ``"[31000-31005, 31010-31020]"`` or ``"8080"`` as inclusive ranges."""
    out = []
    for part in text.strip().strip("[]").split(","):
        part = part.strip()
        if not part:
            continue
        begin, _, end = part.partition("-")
        out.append((int(begin), int(end or begin)))
    for b, e in out:
        if b > e:
            raise ValueError(f"range {b}-{e} ends before it begins")
    return _merge(out)


def format_ranges(ranges: Iterable[Range]) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


@attrs.frozen
class Resources:
    """An immutable bag of resources; operations return new bags."""

    scalars: Mapping[str, float] = attrs.field(factory=dict)
    ranges: Mapping[str, tuple[Range, ...]] = attrs.field(factory=dict)
    sets: Mapping[str, frozenset[str]] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, items: Any) -> Resources:
        """From a v1 ``Resource`` array; raises ValueError on a malformed entry."""
        scalars: dict[str, float] = {}
        ranges: dict[str, list[Range]] = {}
        sets: dict[str, set[str]] = {}
        for r in items or ():
            if not isinstance(r, dict) or not isinstance(r.get("name"), str):
                raise ValueError("a resource needs a name and a type")
            name, kind = r["name"], r.get("type")
            if kind == "SCALAR":
                value = wire.as_float((r.get("scalar") or {}).get("value"), -1.0)
                if value < 0:
                    raise ValueError(f"Invalid scalar resource {name}: negative or missing value")
                scalars[name] = _fix(scalars.get(name, 0.0) + value)
            elif kind == "RANGES":
                for item in (r.get("ranges") or {}).get("range") or ():
                    b, e = int(item["begin"]), int(item["end"])
                    if b > e:
                        raise ValueError(f"Invalid ranges resource {name}: {b}-{e}")
                    ranges.setdefault(name, []).append((b, e))
            elif kind == "SET":
                sets.setdefault(name, set()).update(str(i) for i in (r.get("set") or {}).get("item") or ())
            else:
                raise ValueError(f"Invalid resource type {kind!r} for {name}")
        return cls(
            {k: v for k, v in scalars.items() if v > 0},
            {k: _merge(v) for k, v in ranges.items() if v},
            {k: frozenset(v) for k, v in sets.items() if v},
        )

    def __add__(self, other: Resources) -> Resources:
        scalars = dict(self.scalars)
        for k, v in other.scalars.items():
            scalars[k] = _fix(scalars.get(k, 0.0) + v)
        ranges = dict(self.ranges)
        for k, v in other.ranges.items():
            ranges[k] = _merge(ranges.get(k, ()) + v)
        sets = dict(self.sets)
        for k, v in other.sets.items():
            sets[k] = sets.get(k, frozenset()) | v
        return Resources(scalars, ranges, sets)

    def __sub__(self, other: Resources) -> Resources:
        scalars = {k: _fix(v - other.scalars.get(k, 0.0)) for k, v in self.scalars.items()}
        ranges = {k: _minus(v, other.ranges.get(k, ())) for k, v in self.ranges.items()}
        sets = {k: v - other.sets.get(k, frozenset()) for k, v in self.sets.items()}
        return Resources(
            {k: v for k, v in scalars.items() if v > 0},
            {k: v for k, v in ranges.items() if v},
            {k: v for k, v in sets.items() if v},
        )

    def contains(self, other: Resources) -> bool:
        return (
            all(self.scalars.get(k, 0.0) >= v for k, v in other.scalars.items())
            and all(_covers(self.ranges.get(k, ()), v) for k, v in other.ranges.items())
            and all(v <= self.sets.get(k, frozenset()) for k, v in other.sets.items())
        )

    def empty(self) -> bool:
        return not (self.scalars or self.ranges or self.sets)

    def scalar(self, name: str) -> float:
        return self.scalars.get(name, 0.0)

    def allocatable(self) -> bool:
        """The master's default ``--min_allocatable_resources``: cpus:0.01 or mem:32."""
        return self.scalar("cpus") >= 0.01 or self.scalar("mem") >= 32

    def to_v1(self, *, role: str | None = None, multi_role: bool = False) -> list[dict[str, Any]]:
        """The v1 array of an offer: unreserved resources carry ``role:"*"``; ``allocation_info``
        only for MULTI_ROLE frameworks (``role`` None leaves both out, as in a TaskInfo echo)."""
        out: list[dict[str, Any]] = []
        for name, value in self.scalars.items():
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        for name, ranges in self.ranges.items():
            rng = [{"begin": b, "end": e} for b, e in ranges]
            out.append({"name": name, "type": "RANGES", "ranges": {"range": rng}})
        for name, items in self.sets.items():
            out.append({"name": name, "type": "SET", "set": {"item": sorted(items)}})
        if role is not None:
            for r in out:
                r["role"] = "*"
                if multi_role:
                    r["allocation_info"] = {"role": role}
        return out

    def to_state(self) -> dict[str, Any]:
        """The v0 ``/master/state`` object: cpus, gpus, mem and disk always present."""
        out: dict[str, Any] = {k: float(self.scalar(k)) for k in ("cpus", "gpus", "mem", "disk")}
        for name, value in self.scalars.items():
            out[name] = float(value)
        for name, ranges in self.ranges.items():
            out[name] = format_ranges(ranges)
        for name, items in self.sets.items():
            out[name] = "{" + ", ".join(sorted(items)) + "}"
        return out

    def __str__(self) -> str:
        parts = [f"{k}:{v:g}" for k, v in self.scalars.items()]
        parts += [f"{k}:{format_ranges(v)}" for k, v in self.ranges.items()]
        parts += [f"{k}:{{{', '.join(sorted(v))}}}" for k, v in self.sets.items()]
        return "; ".join(parts) or "{}"
