"""Launching and placement: the requests a pass places, the LAUNCH_GROUPs it sends, offer flow control.

Each instance an application wants and has no taskgroup for (and is not waiting out a restart
delay) becomes a placement request; every placed request becomes a taskgroup on record and a
LAUNCH_GROUP operation, grouped per offer into one ACCEPT. Offers are SUPPRESSed when nothing is
pending and REVIVEd when something is.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from bcs.core.offers import model
from bcs.plugins.mesos import records, wire

if TYPE_CHECKING:
    from bcs.plugins.mesos.scheduler import Scheduler

__all__ = [
    "accept",
    "attributes_from_json",
    "attributes_json",
    "launches",
    "pending",
    "suppress_or_revive",
    "waiting",
]

ByOffer = dict[str, tuple[model.Offer, list[dict[str, Any]]]]  # offer id -> offer, its operations


def attributes_json(attributes: dict[str, model.AttrValue]) -> dict[str, Any]:
    """An agent's attributes as a taskgroup records them (sets as sorted lists)."""
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in attributes.items()}


def attributes_from_json(data: dict[str, Any]) -> dict[str, model.AttrValue]:
    return {k: frozenset(v) if isinstance(v, list) else v for k, v in data.items()}


def _next_id(sched: Scheduler, instance: int, app: records.Application) -> str:
    sched.id_stamp = max(int(time.time() * 1000), sched.id_stamp + 1)
    return f"{instance}.{app.name}.{app.namespace}.{sched.cluster_id}.{sched.id_stamp}"


def _occupied(sched: Scheduler, app: records.Application) -> set[int]:
    return {tg.instance for tg in sched.app_tgs.get((app.namespace, app.name), {}).values()}


def pending(sched: Scheduler, now: float) -> list[model.Request]:
    """A placement request for each instance that has no taskgroup and may launch at ``now``."""
    out = []
    if sched.client is None or not sched.client.stream_id:
        return out
    for app in sched.apps.values():
        if app.deleting:
            continue
        occupied = _occupied(sched, app)
        for i in range(app.instances):
            if i in occupied or app.not_before.get(i, 0.0) > now:
                continue
            spec = app.spec
            out.append(
                model.Request(
                    key=_next_id(sched, i, app),
                    group=f"{app.namespace}/{app.name}",
                    cpus=spec.cpus + wire.EXECUTOR["cpus"],
                    mem=spec.mem + wire.EXECUTOR["mem"],
                    disk=spec.disk + wire.EXECUTOR["disk"],
                    ports=sum(1 for c in spec.containers for p in c.ports if p.host_port == 0),
                    fixed_ports=tuple(
                        p.host_port for c in spec.containers for p in c.ports if p.host_port > 0
                    ),
                    constraint=spec.constraint,
                    labels=spec.labels,
                )
            )
    return out


def waiting(sched: Scheduler) -> bool:
    """Instances held back by a restart delay still need offers soon."""
    now = time.time()
    return any(
        i not in _occupied(sched, app) and app.not_before.get(i, 0.0) > now
        for app in sched.apps.values()
        if not app.deleting
        for i in range(app.instances)
    )


def launches(sched: Scheduler, placed: list[model.Placement]) -> ByOffer:
    """Record a taskgroup for each placement; its LAUNCH_GROUP operation, grouped by offer."""
    by_offer: ByOffer = {}
    framework_id = sched.client.framework_id if sched.client else ""
    for p in placed:
        ns_app = p.request.group.split("/", 1)
        app = sched.apps[(ns_app[0], ns_app[1])]
        instance = int(p.request.key.split(".", 1)[0])
        tg = records.TaskGroup(
            id=p.request.key,
            namespace=app.namespace,
            app=app.name,
            instance=instance,
            version=app.version,
            agent_id=p.offer.agent_id,
            hostname=p.offer.hostname,
            host_ip=str(p.offer.attributes.get("InnerIP", "")),
            attributes=attributes_json(p.offer.attributes),
            restarts=app.restarts.get(instance, 0),
            launched=True,
        )
        op = wire.launch_group(
            tg=tg, spec=app.spec, placement=p, framework_id=framework_id, cluster_id=sched.cluster_id
        )
        sched.index.remove(tg.id)  # re-added by add_tg with the same facts
        sched.add_tg(tg)
        app.not_before.pop(instance, None)
        by_offer.setdefault(p.offer.id, (p.offer, []))[1].append(op)
    for offer, _ops in by_offer.values():
        sched.pool.remove(offer.id)
    sched.launched += len(placed)
    return by_offer


async def accept(sched: Scheduler, by_offer: ByOffer, declines: list[str]) -> None:
    """One ACCEPT per used offer, and one DECLINE for the offers the pool let go."""
    filters = {"refuse_seconds": sched.settings.refuse_seconds}
    calls = [
        sched.call(
            "ACCEPT",
            {"offer_ids": wire.offer_ids(offer.ids), "operations": ops, "filters": filters},
        )
        for offer, ops in by_offer.values()
    ]
    if declines:
        calls.append(sched.call("DECLINE", {"offer_ids": wire.offer_ids(declines)}))
    await asyncio.gather(*calls)


async def suppress_or_revive(sched: Scheduler, want_offers: bool) -> None:
    if want_offers and sched.suppressed:
        if await sched.call("REVIVE"):
            sched.suppressed = False
    elif (
        not want_offers
        and not sched.suppressed
        and sched.client
        and sched.client.stream_id
        and await sched.call("SUPPRESS")
    ):
        sched.suppressed = True
