"""Kills: the surplus of a scale-down or delete (highest index first), retries, reschedules.

A KILL goes to one task of a taskgroup (the default executor kills the whole group) with the
application's kill grace. A taskgroup killed on purpose is not restarted; one killed to be
rescheduled gives its instance back to the next pass.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bcs.plugins.mesos import records

if TYPE_CHECKING:
    from bcs.plugins.mesos.scheduler import Scheduler

__all__ = ["kill", "kill_surplus"]


def kill_surplus(sched: Scheduler, now: float) -> None:
    """Kill taskgroups beyond the wanted instances, resend KILLs without effect, forget deleted apps."""
    for key, app in list(sched.apps.items()):
        tgs = sched.tgs_of(*key)
        for tg in sorted(tgs, key=lambda t: -t.instance):
            surplus = tg.instance >= app.instances
            if tg.terminal:
                if surplus:
                    sched.drop_tg(tg)
            elif (surplus or tg.kill_sent) and now - tg.kill_sent > sched.settings.kill_retry:
                kill(sched, tg, reschedule=not surplus and not tg.killing)
        if app.deleting and not sched.app_tgs.get(key):
            del sched.apps[key]
            sched.app_tgs.pop(key, None)
            sched.store.delete(sched.store.app_key(*key))


def kill(sched: Scheduler, tg: records.TaskGroup, *, reschedule: bool = False) -> None:
    """KILL a taskgroup on purpose (one task kills the group); ``reschedule`` relaunches it."""
    tg.killing = not reschedule
    tg.kill_sent = time.monotonic()
    sched.save_tg(tg)
    live = [t for t, info in tg.tasks.items() if info["state"] not in records.TERMINAL]
    if not live:
        return
    app = sched.apps.get((tg.namespace, tg.app))
    grace = (app.spec.kill_grace if app else 10) * 1_000_000_000
    payload = {
        "task_id": {"value": live[0]},
        "agent_id": {"value": tg.agent_id},
        "kill_policy": {"grace_period": {"nanoseconds": grace}},
    }
    sched.send("KILL", payload)
