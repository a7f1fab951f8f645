"""State transitions: what a taskgroup's end means for its instance, and the statuses that follow.

A taskgroup that ends (Finish, Failed, Killed, Lost...) is forgotten when nothing wants its
instance any more, kept when it finished, and otherwise restarted under the application's restart
policy (interval, backoff, maxtimes) or kept on record, Failed or Lost, holding its instance.
Application statuses are derived from their current taskgroups by the rules of :mod:`.records`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bcs.plugins.mesos import inplace, records, rolling

if TYPE_CHECKING:
    from bcs.plugins.mesos.scheduler import Scheduler

__all__ = ["derive_statuses", "ended"]


def ended(sched: Scheduler, tg: records.TaskGroup, *, lost: bool) -> None:
    """A taskgroup reached a terminal status: forget it, restart its instance, or keep it."""
    sched.index.remove(tg.id)
    if tg.delta:
        inplace.sync_agent(sched, tg.agent_id)  # what it held in place is free again
    app = sched.apps.get((tg.namespace, tg.app))
    if app is None or tg.killing or tg.instance >= app.instances or app.deleting:
        sched.drop_tg(tg)
        return
    if tg.status in ("Finish",):
        return  # done: the instance stays finished
    rescheduled_on_purpose = not tg.killing and tg.kill_sent > 0
    reason = "lost" if lost else "failed"
    restarts = app.restarts.get(tg.instance, 0)
    allowed = app.spec.restart.maxtimes == 0 or restarts < app.spec.restart.maxtimes
    if rescheduled_on_purpose or (app.spec.restart.applies(reason) and allowed):
        if not rescheduled_on_purpose:
            app.restarts[tg.instance] = restarts + 1
            app.not_before[tg.instance] = time.time() + app.spec.restart.delay(restarts + 1)
        sched.save_app(app)
        sched.drop_tg(tg)
    # Otherwise the taskgroup stays on record, Failed or Lost, and holds its instance.


def derive_statuses(sched: Scheduler) -> None:
    """Each application's status from its current taskgroups (a rolling deployment sets its own)."""
    for key, app in sched.apps.items():
        if rolling.owns_status(sched, app):
            continue
        current = [tg for tg in sched.app_tgs.get(key, {}).values() if tg.instance < app.instances]
        status, message = records.app_status(app.instances, [tg.status for tg in current])
        if app.deleting:
            status, message = "Operating", "application is being deleted"
        if (status, message) != (app.status, app.message):
            app.last_status, app.status, app.message = app.status, status, message
            sched.save_app(app)
