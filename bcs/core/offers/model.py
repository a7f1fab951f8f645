"""Plain data shared by the pool, the constraints and placement: offers, requests, placements."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["AttrValue", "Offer", "Placement", "Request", "take_ports"]

# An agent attribute: TEXT (and RANGES, rendered "[a-b]") as str, SCALAR as float, SET as frozenset.
AttrValue = str | float | frozenset[str]


@attrs.define(eq=False)
class Offer:
    """What one agent offers right now; placement consumes it in place."""

    id: str
    agent_id: str
    hostname: str
    cpus: float = 0.0
    mem: float = 0.0  # MB
    disk: float = 0.0  # MB
    ports: list[tuple[int, int]] = attrs.field(factory=list)  # inclusive ranges, ascending
    attributes: dict[str, AttrValue] = attrs.field(factory=dict)
    received: float = attrs.field(factory=time.monotonic)
    score: float = 0.0  # free share of the agent's totals; the pool keeps emptier agents first
    valid: bool = True  # False once past its lifetime (declined a little later)
    extra: Any = None  # the engine's own copy of the offer (e.g. the v1 JSON)
    ids: list[str] = attrs.field(factory=list)  # every master offer merged into this one

    def merge(self, other: Offer) -> None:
        """Fold a later offer for the same agent into this one (one offer per agent in the pool)."""
        self.cpus += other.cpus
        self.mem += other.mem
        self.disk += other.disk
        self.ports = sorted(self.ports + other.ports)
        self.ids.extend(other.ids)

    def __attrs_post_init__(self) -> None:
        # ``hostname`` is always available to constraints, as upstream.
        self.attributes.setdefault("hostname", self.hostname)
        if not self.ids:
            self.ids.append(self.id)

    def port_count(self) -> int:
        return sum(end - begin + 1 for begin, end in self.ports)

    def has_port(self, port: int) -> bool:
        return any(begin <= port <= end for begin, end in self.ports)


@attrs.frozen
class Request:
    """One taskgroup to place: its resources, ports and the constraint of its application."""

    key: str  # unique id of this placement request (the taskgroup id)
    group: str  # the application it belongs to (constraint counts are per group)
    cpus: float
    mem: float
    disk: float = 0.0
    ports: int = 0  # host ports to pick from the offer
    fixed_ports: tuple[int, ...] = ()  # host ports asked for by number
    constraint: Any = None  # constraints.Constraint or None
    labels: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Placement:
    request: Request
    offer: Offer
    ports: tuple[int, ...]  # picked ports, in request order
    fixed_ports: tuple[int, ...] = ()


def take_ports(offer: Offer, count: int, fixed: tuple[int, ...] = ()) -> tuple[int, ...] | None:
    """Remove ``fixed`` and ``count`` more ports (lowest first) from the offer's ranges; None if short."""
    if any(not offer.has_port(p) for p in fixed) or len(set(fixed)) != len(fixed):
        return None
    if offer.port_count() - len(fixed) < count:
        return None
    for port in fixed:
        _remove_port(offer, port)
    picked: list[int] = []
    while len(picked) < count:
        begin, end = offer.ports[0]
        picked.append(begin)
        if begin == end:
            offer.ports.pop(0)
        else:
            offer.ports[0] = (begin + 1, end)
    return tuple(picked)


def _remove_port(offer: Offer, port: int) -> None:
    for i, (begin, end) in enumerate(offer.ports):
        if begin <= port <= end:
            pieces = [(b, e) for b, e in ((begin, port - 1), (port + 1, end)) if b <= e]
            offer.ports[i : i + 1] = pieces
            return
