"""Deployments and their rolling update (bk-bcs §6.4), driven by the scheduler's passes.

A deployment serves through ``application`` (named ``<deployment>-v<generation>``); an update with
a different template creates ``application_ext`` with 0 instances and steps between them: each step
is two half-steps, scaling the new application up by ``maxSurge`` and the old one down by
``maxUnavailable`` (CreateFirst: up then down, so at most ``maxSurge`` above the defined instances;
DeleteFirst: down then up, never above them). A half-step starts only when both applications are
settled (every wanted instance Running, no surplus left) and ``upgradeDuration`` has passed since the
last step. ``rollingManually`` pauses after every step; pause holds the rollout before its next
half-step, resume lets it go on, cancel rolls back (the old application returns to its full size and
the new one is deleted). Everything lives in the records, so a restarted scheduler carries on where
the last one stopped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import attrs

from bcs import errors
from bcs.plugins.mesos import objects, records

if TYPE_CHECKING:
    from bcs.plugins.mesos.scheduler import Scheduler

__all__ = [
    "advance",
    "cancel",
    "create",
    "delete",
    "owns_status",
    "pause",
    "resume",
    "scale",
    "update",
]


def _app_name(name: str, generation: int) -> str:
    return f"{name}-v{generation}"


def _app_spec(spec: objects.DeploymentSpec, generation: int) -> objects.AppSpec:
    return attrs.evolve(spec.app, name=_app_name(spec.name, generation))


def save(sched: Scheduler, dep: records.Deployment) -> None:
    dep.updated = time.time()
    sched.store.put(sched.store.key("deployment", dep.spec.namespace, dep.spec.name), dep.to_json())


def get(sched: Scheduler, namespace: str, name: str) -> records.Deployment:
    dep = sched.deployments.get((namespace, name))
    if dep is None or dep.deleting:
        raise errors.NotFound(f"deployment {namespace}/{name} does not exist")
    return dep


def create(sched: Scheduler, spec: objects.DeploymentSpec) -> records.Deployment:
    if (spec.namespace, spec.name) in sched.deployments:
        raise errors.Conflict(f"deployment {spec.namespace}/{spec.name} already exists")
    dep = records.Deployment(spec=spec, application=_app_name(spec.name, 1))
    sched.submit_app(_app_spec(spec, 1), owner=spec.name)
    sched.deployments[(spec.namespace, spec.name)] = dep
    save(sched, dep)
    return dep


def update(sched: Scheduler, spec: objects.DeploymentSpec) -> records.Deployment:
    dep = get(sched, spec.namespace, spec.name)
    if dep.rolling or dep.rolling_back:
        raise errors.Conflict(f"deployment {spec.namespace}/{spec.name} is already rolling")
    old = sched.app(spec.namespace, dep.application)
    if spec.app.template_key() == old.spec.template_key():
        dep.spec = spec
        sched.scale(spec.namespace, dep.application, spec.app.instances)
    else:
        dep.previous = dict(dep.spec.raw)
        dep.spec = spec
        dep.generation += 1
        dep.application_ext = _app_name(spec.name, dep.generation)
        sched.submit_app(_app_spec(spec, dep.generation), owner=spec.name, instances=0)
        order = spec.strategy.rolling_order
        dep.phase = "up" if order == "CreateFirst" else "down"
        dep.status = "RollingUpdate"
        dep.paused = False
        dep.last_rolling = 0.0
    save(sched, dep)
    sched.wake()
    return dep


def scale(sched: Scheduler, namespace: str, name: str, instances: int) -> records.Deployment:
    dep = get(sched, namespace, name)
    if dep.rolling or dep.rolling_back:
        raise errors.Conflict(f"deployment {namespace}/{name} is rolling; scale it afterwards")
    raw = {**dep.spec.raw, "spec": {**dep.spec.raw.get("spec", {}), "instance": instances}}
    dep.spec = attrs.evolve(dep.spec, app=attrs.evolve(dep.spec.app, instances=instances), raw=raw)
    sched.scale(namespace, dep.application, instances)
    save(sched, dep)
    return dep


def pause(sched: Scheduler, namespace: str, name: str) -> records.Deployment:
    """Hold the rollout before its next half-step."""
    return _set_paused(sched, namespace, name, paused=True)


def resume(sched: Scheduler, namespace: str, name: str) -> records.Deployment:
    """Let a paused rollout take its next half-step."""
    return _set_paused(sched, namespace, name, paused=False)


def _set_paused(sched: Scheduler, namespace: str, name: str, *, paused: bool) -> records.Deployment:
    dep = _rolling(sched, namespace, name)
    _hold(dep, paused=paused)
    save(sched, dep)
    if not paused:
        sched.wake()  # the next half-step may be due already
    return dep


def _hold(dep: records.Deployment, *, paused: bool) -> None:
    dep.paused = paused
    dep.status = "RollingUpdatePaused" if paused else "RollingUpdate"


def cancel(sched: Scheduler, namespace: str, name: str) -> records.Deployment:
    """Roll back: the new application is deleted, then the old one returns to its full size (so a
    rollback stays within the surge the rollout had), and the previous definition is back."""
    dep = _rolling(sched, namespace, name)
    sched.delete_app(namespace, dep.application_ext)
    if dep.previous:
        spec = objects.parse(dep.previous, kind="deployment")
        assert isinstance(spec, objects.DeploymentSpec)
        dep.spec = spec
    dep.rolling_back, dep.application_ext, dep.previous = dep.application_ext, "", {}
    dep.status = "Deploying"
    dep.paused = False
    dep.phase = ""
    save(sched, dep)
    sched.wake()
    return dep


def delete(sched: Scheduler, namespace: str, name: str) -> None:
    dep = get(sched, namespace, name)
    for app in (dep.application, dep.application_ext):
        if app and (namespace, app) in sched.apps:
            sched.delete_app(namespace, app)
    del sched.deployments[(namespace, name)]
    sched.store.delete(sched.store.key("deployment", namespace, name))


def _rolling(sched: Scheduler, namespace: str, name: str) -> records.Deployment:
    dep = get(sched, namespace, name)
    if not dep.rolling:
        raise errors.Conflict(f"deployment {namespace}/{name} is not rolling")
    return dep


def owns_status(sched: Scheduler, app: records.Application) -> bool:
    """Applications of a rolling deployment show the rolling status instead of their own."""
    dep = sched.deployments.get((app.namespace, app.owner)) if app.owner else None
    return bool(dep is not None and dep.rolling and app.name in (dep.application, dep.application_ext))


def _settled(sched: Scheduler, app: records.Application) -> bool:
    tgs = sched.app_tgs.get((app.namespace, app.name), {}).values()
    running = sum(1 for tg in tgs if tg.instance < app.instances and tg.status == "Running")
    surplus = any(tg.instance >= app.instances for tg in tgs)
    return running == app.instances and not surplus


def advance(sched: Scheduler, *, now: float) -> None:
    for dep in list(sched.deployments.values()):
        if dep.deleting:
            continue
        if dep.rolling:
            _step(sched, dep, now)
        else:
            _follow(sched, dep)


def _follow(sched: Scheduler, dep: records.Deployment) -> None:
    """Not rolling: the deployment shows its application's Running, Abnormal or Error, else Deploying.

    After a cancel, the old application is scaled back once the cancelled one is gone."""
    ns = dep.spec.namespace
    app = sched.apps.get((ns, dep.application))
    if dep.rolling_back and (ns, dep.rolling_back) not in sched.apps:
        dep.rolling_back = ""
        if app is not None:
            app.instances = dep.spec.app.instances
            sched.save_app(app)
            sched.wake()
        save(sched, dep)
    shown = ("Running", "Abnormal", "Error")
    status = app.status if app is not None and app.status in shown and not dep.rolling_back else "Deploying"
    if status != dep.status:
        dep.status = status
        save(sched, dep)


def _step(sched: Scheduler, dep: records.Deployment, now: float) -> None:
    ns = dep.spec.namespace
    old, new = sched.apps.get((ns, dep.application)), sched.apps.get((ns, dep.application_ext))
    if old is None or new is None:
        return
    wanted = dep.spec.app.instances
    for app, sub in ((old, "RollingUpdateDown"), (new, "RollingUpdateUp")):
        if app.status != "RollingUpdate" or app.message != sub:
            app.last_status, app.status, app.message = app.status, "RollingUpdate", sub
            sched.save_app(app)
    if not (_settled(sched, old) and _settled(sched, new)):
        return
    if old.instances == 0 and new.instances >= wanted:
        _finish(sched, dep, old)
        return
    if dep.paused or now - dep.last_rolling < dep.spec.strategy.upgrade_duration:
        return
    strategy = dep.spec.strategy
    if dep.phase == "up":
        target = min(wanted, new.instances + max(strategy.max_surge, 1))
        if strategy.rolling_order == "DeleteFirst":
            # Delete first never runs more than the defined instances, whatever maxSurge says.
            target = max(new.instances, min(target, wanted - old.instances))
        new.instances = target
        sched.save_app(new)
        dep.phase = "down"
        if strategy.rolling_order == "DeleteFirst":
            _step_done(dep, now)
    else:
        old.instances = max(0, old.instances - max(strategy.max_unavailable, 1))
        sched.save_app(old)
        dep.phase = "up"
        if strategy.rolling_order == "CreateFirst":
            _step_done(dep, now)
    save(sched, dep)
    sched.wake()


def _step_done(dep: records.Deployment, now: float) -> None:
    dep.last_rolling = now
    if dep.spec.strategy.manually:
        _hold(dep, paused=True)


def _finish(sched: Scheduler, dep: records.Deployment, old: records.Application) -> None:
    sched.delete_app(old.namespace, old.name)
    dep.application, dep.application_ext = dep.application_ext, ""
    dep.status = "Running"
    dep.phase = ""
    save(sched, dep)
    sched.wake()
