"""The allocator: one offer per agent per framework, refuse filters, suppression and rescinds.

Each pass walks the connected frameworks, the least-loaded first (a coarse DRF), and offers every
active agent's unallocated resources to the framework's first role that is neither suppressed nor
filtered. A filter keyed by (role, agent) holds the refused resources until it expires; it hides the
agent only while it covers everything the agent has free, as in the real allocator.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import attrs

from bcs.sim.mesos import resources, wire

if TYPE_CHECKING:
    from bcs.sim.mesos import agents, frameworks
    from bcs.sim.mesos import master as master_mod

__all__ = ["MAX_REFUSE_SECONDS", "Offer", "add_filter", "allocate", "offer_json", "remove_offer"]

MAX_REFUSE_SECONDS = 31536000.0


@attrs.define(eq=False)
class Offer:
    id: str
    framework_id: str
    agent_id: str
    role: str
    resources: resources.Resources
    created: float = attrs.field(factory=time.monotonic)


def offer_json(offer: Offer, agent: agents.Agent, fw: frameworks.Framework) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": wire.ident(offer.id),
        "framework_id": wire.ident(fw.id),
        "agent_id": wire.ident(agent.id),
        "hostname": agent.hostname,
        "url": agent.url(),
        "resources": offer.resources.to_v1(role=offer.role, multi_role=fw.multi_role),
    }
    if agent.attributes:
        out["attributes"] = agent.attributes
    executors = sorted(e for f, e in agent.executors if f == fw.id)
    if executors:
        out["executor_ids"] = [wire.ident(e) for e in executors]
    if fw.multi_role:
        out["allocation_info"] = {"role": offer.role}
    return out


def add_filter(
    fw: frameworks.Framework, role: str, agent_id: str, res: resources.Resources, refuse: Any
) -> None:
    """Refuse ``res`` on that agent for ``refuse`` seconds (default 5, capped at a year)."""
    try:
        seconds = min(wire.as_float(refuse, 5.0), MAX_REFUSE_SECONDS)
    except (TypeError, ValueError):
        seconds = 5.0
    if seconds <= 0 or res.empty():
        return
    fw.filters[(role, agent_id)] = (time.monotonic() + seconds, res)


def _filtered(fw: frameworks.Framework, role: str, agent: agents.Agent, free: resources.Resources) -> bool:
    entry = fw.filters.get((role, agent.id))
    if entry is None:
        return False
    expiry, refused = entry
    if time.monotonic() >= expiry:
        del fw.filters[(role, agent.id)]
        return False
    return refused.contains(free)


def _load(fw: frameworks.Framework) -> float:
    return sum(t.resources.scalar("cpus") for t in fw.tasks.values() if t.live)


def allocate(master: master_mod.Master, live_agents: list[agents.Agent]) -> None:
    """One allocation pass over ``live_agents``; sends an OFFERS event to every framework that
    got something."""
    now = time.monotonic()
    if master.offer_timeout:
        for offer in [o for o in master.offers.values() if now - o.created >= master.offer_timeout]:
            remove_offer(master, offer, rescind=True)
    candidates = [fw for fw in master.frameworks.values() if fw.connected and fw.active and not fw.removed]
    candidates.sort(key=_load)
    for fw in candidates:
        roles = [r for r in fw.roles if r not in fw.suppressed]
        if not roles:
            continue
        made = []
        for agent in live_agents:
            free = agent.available()
            if not free.allocatable():
                continue
            role = next((r for r in roles if not _filtered(fw, r, agent, free)), None)
            if role is None:
                continue
            offer = Offer(master.next_offer_id(), fw.id, agent.id, role, free)
            agent.offered = agent.offered + free
            master.offers[offer.id] = offer
            fw.offers[offer.id] = offer
            made.append(offer_json(offer, agent, fw))
        if made:
            fw.send({"type": "OFFERS", "offers": {"offers": made}})


def remove_offer(master: master_mod.Master, offer: Offer, *, rescind: bool = False) -> None:
    """Take an offer back; only a rescind tells the framework (RESCIND event)."""
    master.offers.pop(offer.id, None)
    master.kick(offer.agent_id)
    agent = master.agents.get(offer.agent_id)
    if agent is not None:
        agent.offered = agent.offered - offer.resources
    fw = master.frameworks.get(offer.framework_id)
    if fw is not None:
        fw.offers.pop(offer.id, None)
        if rescind:
            fw.send({"type": "RESCIND", "rescind": {"offer_id": wire.ident(offer.id)}})
