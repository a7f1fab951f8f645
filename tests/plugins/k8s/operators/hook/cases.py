"""The table of HookRun cases and the runner that drives them against a simulated cluster.

Each :class:`Case` is one HookRun: its metrics, scripted web answers, and the phase and exact counters
it must end with. :func:`run_cases` creates a group's runs at once (they run concurrently in one
controller), applies ``terminate`` when asked, waits for every run to complete and returns the final
objects; :func:`check` lists every mismatch so a failure names the cases.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import attrs
import pytest

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.hook import model

COUNTERS = (
    "count",
    "successful",
    "failed",
    "inconclusive",
    "error",
    "consecutiveError",
    "consecutiveSuccessful",
)
OK = (
    200,
    {
        "ok": "1",
        "players": 5,
        "rate": "0.5",
        "name": "room",
        "rooms": [{"id": "a", "players": 3}, {"id": "b", "players": 0}],
    },
)
BAD = (200, {"ok": "0", "players": 1, "rate": "0.5"})
OTHER = (200, {"ok": "2"})
E500 = (500, {"error": "boom"})


def C(**counters: int) -> dict[str, int]:
    """Expected counters; every counter not named must be 0."""
    return {k: counters.get(k, 0) for k in COUNTERS}


def web(path: str, *, json_path: str = "{$.ok}", **extra: Any) -> dict[str, Any]:
    return {"web": {"url": "{{ args.base }}/" + path, "jsonPath": json_path, **extra}}


def metric(name: str, provider: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": provider, **fields}


@attrs.frozen
class Case:
    id: str
    metrics: list[dict[str, Any]]
    phase: str
    counters: dict[str, dict[str, int]]
    answers: dict[str, list[tuple[int, Any]]] = attrs.Factory(dict)  # web path -> scripted answers
    policy: str | None = None
    args: list[dict[str, Any]] = attrs.Factory(list)
    terminate: bool = False
    terminate_after: int | None = None  # set spec.terminate once the first metric has this count
    message: str = ""  # substring of status.message
    metric_phases: dict[str, str] = attrs.Factory(dict)
    manifest: dict[str, Any] | None = None  # a full HookRun instead of metrics/args

    def body(self, base: str) -> dict[str, Any]:
        if self.manifest is not None:
            body = dict(self.manifest)
            body["metadata"] = {**body["metadata"], "name": self.id}
            args = [a for a in body["spec"]["args"] if a["name"] != "base"]
            body["spec"] = {**body["spec"], "args": [*args, {"name": "base", "value": base}]}
            return body
        spec: dict[str, Any] = {
            "metrics": self.metrics,
            "args": [{"name": "base", "value": base}, *self.args],
        }
        if self.policy:
            spec["policy"] = self.policy
        if self.terminate:
            spec["terminate"] = True
        return {
            "apiVersion": model.HOOKRUNS.api_version,
            "kind": "HookRun",
            "metadata": {"name": self.id},
            "spec": spec,
        }


async def run_cases(
    kube: client.KubeClient, cases: list[Case], *, base: str, target: Any = None, timeout: float = 45.0
) -> dict[str, dict[str, Any]]:
    """Create every case's HookRun, drive terminations, and wait until all completed."""
    assert len({c.id for c in cases}) == len(cases), "case ids must be unique"
    if target is not None:
        for c in cases:
            for path, answers in c.answers.items():
                target.script(path, *answers)
    await asyncio.gather(*(kube.create(model.HOOKRUNS, "default", c.body(base)) for c in cases))
    terminated: set[str] = set()
    deadline = time.monotonic() + timeout
    by_id = {c.id: c for c in cases}
    while True:
        listing = await kube.list(model.HOOKRUNS, "default")
        runs = {o["metadata"]["name"]: o for o in listing["items"] if o["metadata"]["name"] in by_id}
        for name, obj in runs.items():
            case = by_id[name]
            if case.terminate_after is None or name in terminated:
                continue
            results = (obj.get("status") or {}).get("metricResults") or []
            if results and int(results[0].get("count") or 0) >= case.terminate_after:
                await kube.patch(model.HOOKRUNS, "default", name, {"spec": {"terminate": True}})
                terminated.add(name)
        done = {n for n, o in runs.items() if (o.get("status") or {}).get("phase") in model.COMPLETED}
        if len(done) == len(cases):
            return runs
        if time.monotonic() > deadline:
            waiting = sorted(set(by_id) - done)
            pytest.fail(f"runs not completed within {timeout}s: {waiting}")
        await asyncio.sleep(0.05)


def check(cases: list[Case], runs: dict[str, dict[str, Any]]) -> list[str]:
    """Every way a run differs from its case, as readable lines."""
    problems = []
    for c in cases:
        status = runs[c.id].get("status") or {}
        if status.get("phase") != c.phase:
            problems.append(f"{c.id}: phase {status.get('phase')} != {c.phase} ({status.get('message', '')})")
        if c.message and c.message not in (status.get("message") or ""):
            problems.append(f"{c.id}: message {status.get('message')!r} lacks {c.message!r}")
        results = {r["name"]: r for r in status.get("metricResults") or []}
        for name, want in c.counters.items():
            got = {k: int((results.get(name) or {}).get(k) or 0) for k in COUNTERS}
            if got != want:
                diff = {k: (got[k], want[k]) for k in COUNTERS if got[k] != want[k]}
                problems.append(f"{c.id}/{name}: counters (got, want) {diff}")
        for name, phase in c.metric_phases.items():
            got_phase = (results.get(name) or {}).get("phase")
            if got_phase != phase:
                problems.append(f"{c.id}/{name}: metric phase {got_phase} != {phase}")
    return problems
