"""Placement: pending requests matched against the pool's offers under their constraints.

Offers are walked emptiest agent first; a request takes the first offer with enough cpus, mem, disk
and ports that satisfies its constraint. Several requests may share one offer (the rest of it stays
in the pool, re-sorted), and every placement is counted in the index at once, so UNIQUE and GROUPBY
hold within one pass as well as across passes.
"""

from __future__ import annotations

from collections.abc import Iterable

from bcs.core.offers import constraints, model, pool

__all__ = ["place", "resources_fit"]

_EPS = 1e-9


def resources_fit(request: model.Request, offer: model.Offer) -> bool:
    return (
        offer.cpus + _EPS >= request.cpus
        and offer.mem + _EPS >= request.mem
        and offer.disk + _EPS >= request.disk
        and offer.port_count() >= request.ports + len(request.fixed_ports)
    )


def _consume(request: model.Request, offer: model.Offer) -> model.Placement | None:
    ports = model.take_ports(offer, request.ports, request.fixed_ports)
    if ports is None:
        return None
    offer.cpus -= request.cpus
    offer.mem -= request.mem
    offer.disk -= request.disk
    return model.Placement(request=request, offer=offer, ports=ports, fixed_ports=request.fixed_ports)


def place(
    requests: Iterable[model.Request], offers: pool.OfferPool, index: constraints.Index
) -> tuple[list[model.Placement], list[model.Request]]:
    """Place what fits; return (placements, requests left pending). Offers are consumed in place
    (still in the pool); the caller removes the offers it accepts."""
    placed: list[model.Placement] = []
    left: list[model.Request] = []
    for request in requests:
        for offer in offers.offers():
            if not resources_fit(request, offer):
                continue
            if not constraints.fits(request.constraint, offer, request.group, index):
                continue
            placement = _consume(request, offer)
            if placement is None:
                continue
            offers.rescore(offer)
            index.add(
                request.key,
                group=request.group,
                agent_id=offer.agent_id,
                attributes=offer.attributes,
                labels=request.labels,
            )
            placed.append(placement)
            break
        else:
            left.append(request)
    return placed, left
