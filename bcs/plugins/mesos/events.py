"""The event stream: what the scheduler does with SUBSCRIBED, OFFERS, RESCIND, UPDATE and FAILURE.

On every (re)subscription the offers held are void and every task on record is RECONCILEd, so a
restarted scheduler learns the truth before it places anything. Status updates are acknowledged,
move task and taskgroup states, and hand a taskgroup that ended to :mod:`.transitions`; an update
for a task that is not ours (any more) gets it killed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from bcs.plugins.mesos import records, transitions, wire

if TYPE_CHECKING:
    from bcs.plugins.mesos.scheduler import Scheduler

__all__ = ["on_event", "on_subscribed"]

logger = logging.getLogger(__name__)


async def on_subscribed(sched: Scheduler, framework_id: str) -> None:
    sched.store.set_framework_id(framework_id)
    # Offers held before a resubscription are void (the master withdrew them).
    sched.pool.clear()
    sched.suppressed = False
    known = [
        {"task_id": {"value": t}, "agent_id": {"value": tg.agent_id}}
        for tg in sched.taskgroups.values()
        if not tg.terminal
        for t in tg.tasks
    ]
    if known:
        sched.send("RECONCILE", {"tasks": known})
    sched.last_reconcile = time.time()
    sched.wake()


async def on_event(sched: Scheduler, event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "OFFERS":
        declines = []
        for raw in event["offers"].get("offers", []):
            declines += sched.pool.add(wire.offer_from_json(raw))
        _decline(sched, declines)
        sched.wake()
    elif kind == "RESCIND":
        sched.pool.remove(event["rescind"]["offer_id"]["value"])
    elif kind == "UPDATE":
        _on_update(sched, event["update"]["status"])
    elif kind == "FAILURE":
        failure = event.get("failure") or {}
        if "executor_id" not in failure and "agent_id" in failure:
            _agent_lost(sched, failure["agent_id"]["value"])
    elif kind == "ERROR":
        logger.warning("mesos %s: master error: %s", sched.cluster_id, event.get("error"))


def _decline(sched: Scheduler, offer_ids: list[str]) -> None:
    """DECLINE offers the pool refuses (without filters: the master's default refusal applies)."""
    if offer_ids:
        sched.send("DECLINE", {"offer_ids": wire.offer_ids(offer_ids)})


def _agent_lost(sched: Scheduler, agent_id: str) -> None:
    _decline(sched, sched.pool.lose_agent(agent_id))


def _on_update(sched: Scheduler, status: dict[str, Any]) -> None:
    if sched.client is not None and "uuid" in status:
        sched.spawn(sched.client.acknowledge(status))
    task_id = status["task_id"]["value"]
    state = records.TASK_STATES.get(status.get("state", ""), "Unknown")
    if status.get("reason") == "REASON_AGENT_REMOVED" and "agent_id" in status:
        _agent_lost(sched, status["agent_id"]["value"])
    tg = sched.taskgroups.get(sched.task_index.get(task_id, ""))
    if tg is None:
        if state not in records.TERMINAL:
            # Not ours (any more): a leftover must not run beside its replacement.
            payload = {"task_id": status["task_id"]}
            if "agent_id" in status:
                payload["agent_id"] = status["agent_id"]
            sched.send("KILL", payload)
        return
    for info in (status.get("container_status") or {}).get("network_infos", []):
        for ip in info.get("ip_addresses", []):
            tg.pod_ip = ip.get("ip_address", tg.pod_ip)
    if "healthy" in status:
        state = tg.set_health(
            task_id, state, healthy=bool(status["healthy"]), message=status.get("message", "")
        )
    changed = tg.set_task_state(task_id, state, status.get("message", ""))
    sched.save_tg(tg)
    if changed and tg.terminal:
        transitions.ended(sched, tg, lost=tg.status == "Lost")
    sched.wake()
