"""The offer pool of bk-bcs ``sched/offer/offerpool.go``, engine-neutral.

* One offer per agent: a second offer for an agent already in the pool is merged into it (upstream
  declines it, which strands resources freed on that agent until the first offer expires; Mesos
  accepts several offers of one agent in one ACCEPT, so :attr:`model.Offer.ids` lists them all).
* Offers below the minimum resources, or from an agent lost less than ``lost_grace`` seconds ago,
  are declined.
* Offers are kept sorted by score descending, the score being the offer's free share of its
  agent's totals (``cpus/cpusTotal + mem/memTotal``), so emptier agents come first (load spreads).
* An offer becomes invalid after ``lifetime`` seconds and is declined ``expire_grace`` later.
* Per-agent deltas (upstream ``AgentSchedInfo``: resources promised to running tasks by in-place
  increases, which the master still counts as free) are subtracted from every new offer of the agent.

The pool never talks to a master: :meth:`add` and :meth:`expire` return the offer ids to decline.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Iterator

import attrs

from bcs.core.offers import model

__all__ = ["OfferPool", "PoolSettings"]


@attrs.frozen
class PoolSettings:
    lifetime: float = 240.0  # seconds an offer may be used (upstream offerLifePeriod)
    expire_grace: float = 5.0  # then declined this much later
    lost_grace: float = 180.0  # seconds a lost agent's offers are refused (lostSlaveGracePeriod)
    min_cpus: float = 0.05
    min_mem: float = 32.0


class OfferPool:
    def __init__(self, settings: PoolSettings | None = None) -> None:
        self.settings = settings or PoolSettings()
        self._order: list[tuple[float, int, model.Offer]] = []  # (-score, seq, offer)
        self._by_id: dict[str, model.Offer] = {}
        self._by_agent: dict[str, model.Offer] = {}
        self._seq: dict[str, int] = {}
        self._counter = itertools.count()
        self._lost: dict[str, float] = {}  # agent id -> when it was lost
        self._totals: dict[str, tuple[float, float]] = {}  # agent id -> (cpus, mem)
        self._deltas: dict[str, tuple[float, float, float]] = {}  # agent id -> (cpus, mem, disk)

    def __len__(self) -> int:
        return len(self._by_agent)

    def __contains__(self, offer_id: str) -> bool:
        return offer_id in self._by_id

    def get(self, offer_id: str) -> model.Offer | None:
        return self._by_id.get(offer_id)

    def set_totals(self, agent_id: str, cpus: float, mem: float) -> None:
        """The agent's total resources, used for the score (otherwise the largest offer seen)."""
        self._totals[agent_id] = (cpus, mem)

    def _score(self, offer: model.Offer) -> float:
        cpus, mem = self._totals.get(offer.agent_id, (0.0, 0.0))
        cpus, mem = max(cpus, offer.cpus), max(mem, offer.mem)
        self._totals[offer.agent_id] = (cpus, mem)
        return (offer.cpus / cpus if cpus else 0.0) + (offer.mem / mem if mem else 0.0)

    def add(self, offer: model.Offer, *, now: float | None = None) -> list[str]:
        """Take ``offer`` into the pool; return the ids to decline (this one, when refused)."""
        now = time.monotonic() if now is None else now
        if offer.id in self._by_id:
            return []
        lost_at = self._lost.get(offer.agent_id)
        if lost_at is not None and now - lost_at < self.settings.lost_grace:
            return [offer.id]
        self._lost.pop(offer.agent_id, None)
        held = self._by_agent.get(offer.agent_id)
        if held is not None:
            self._unlink(held)
            held.merge(offer)
            for offer_id in offer.ids:
                self._by_id[offer_id] = held
            self._insert(held)
            return []
        delta = self._deltas.get(offer.agent_id)
        if delta is not None:
            offer.cpus = max(0.0, offer.cpus - delta[0])
            offer.mem = max(0.0, offer.mem - delta[1])
            offer.disk = max(0.0, offer.disk - delta[2])
        if offer.cpus < self.settings.min_cpus or offer.mem < self.settings.min_mem:
            return [offer.id]
        offer.received = now
        offer.valid = True
        self._insert(offer)
        return []

    def _insert(self, offer: model.Offer) -> None:
        offer.score = self._score(offer)
        seq = next(self._counter)
        self._seq[offer.id] = seq
        bisect.insort(self._order, (-offer.score, seq, offer), key=lambda e: (e[0], e[1]))
        for offer_id in offer.ids:
            self._by_id[offer_id] = offer
        self._by_agent[offer.agent_id] = offer

    def _unlink(self, offer: model.Offer) -> None:
        seq = self._seq.pop(offer.id)
        i = bisect.bisect_left(self._order, (-offer.score, seq), key=lambda e: (e[0], e[1]))
        assert self._order[i][2] is offer
        del self._order[i]

    def remove(self, offer_id: str) -> model.Offer | None:
        """Drop an offer (with every id merged into it); the caller owns it afterwards."""
        offer = self._by_id.get(offer_id)
        if offer is not None:
            for merged in offer.ids:
                self._by_id.pop(merged, None)
            self._unlink(offer)
            if self._by_agent.get(offer.agent_id) is offer:
                del self._by_agent[offer.agent_id]
        return offer

    def rescore(self, offer: model.Offer) -> None:
        """Re-sort an offer whose resources placement has just consumed."""
        if offer.id in self._by_id:
            self._unlink(offer)
            self._insert(offer)

    def offers(self) -> Iterator[model.Offer]:
        """Valid offers, emptiest agent first (a snapshot: the pool may change while iterating)."""
        return (o for _, _, o in list(self._order) if o.valid)

    def all(self) -> list[model.Offer]:
        return [o for _, _, o in self._order]

    def set_delta(self, agent_id: str, cpus: float, mem: float, disk: float) -> list[str]:
        """Resources of ``agent_id`` the master counts as free but running tasks were promised.

        Negative amounts count as 0. The agent's held offer (counted before the change) is dropped,
        its ids returned to decline: the master offers the agent again, and the new offer is
        counted with the delta."""
        delta = (max(0.0, cpus), max(0.0, mem), max(0.0, disk))
        if delta == (0.0, 0.0, 0.0):
            changed = self._deltas.pop(agent_id, None) is not None
        else:
            changed = self._deltas.get(agent_id) != delta
            self._deltas[agent_id] = delta
        offer = self._by_agent.get(agent_id)
        if not changed or offer is None:
            return []
        self.remove(offer.id)
        return list(offer.ids)

    def delta(self, agent_id: str) -> tuple[float, float, float]:
        return self._deltas.get(agent_id, (0.0, 0.0, 0.0))

    def lose_agent(self, agent_id: str, *, now: float | None = None) -> list[str]:
        """An agent was lost: drop its offer and refuse new ones for ``lost_grace``; ids to decline."""
        self._lost[agent_id] = time.monotonic() if now is None else now
        offer = self._by_agent.get(agent_id)
        if offer is None:
            return []
        self.remove(offer.id)
        return list(offer.ids)

    def is_lost(self, agent_id: str, *, now: float | None = None) -> bool:
        lost_at = self._lost.get(agent_id)
        now = time.monotonic() if now is None else now
        return lost_at is not None and now - lost_at < self.settings.lost_grace

    def expire(self, *, now: float | None = None) -> list[str]:
        """Invalidate offers past their lifetime; remove and return those past the grace too."""
        now = time.monotonic() if now is None else now
        out = []
        for offer in self.all():
            age = now - offer.received
            if age >= self.settings.lifetime + self.settings.expire_grace:
                self.remove(offer.id)
                out.extend(offer.ids)
            elif age >= self.settings.lifetime:
                offer.valid = False
        return out

    def clear(self) -> list[str]:
        ids = list(self._by_id)
        for offer in self.all():
            self.remove(offer.id)
        return ids
