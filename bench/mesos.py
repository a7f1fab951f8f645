"""Mesos scheduler benchmark: time to RUNNING, placement throughput, offer-decision latency.

1. A 500-instance application on 200 simulated agents (``bcs sim mesos`` in process, state on an
   SQLite KV): seconds until every instance is RUNNING (goal <= 5 s; Marathon: 500 in 14.2 s).
2. Sustained placements/s with UNIQUE hostname + GROUPBY zone on 1,000 agents (goal >= 200/s).
3. Offer-decision p99: one request judged against a 1,000-offer pool (goal <= 10 ms).

Run: ``.venv/bin/python bench/mesos.py``.
"""

from __future__ import annotations

import asyncio
import pathlib
import statistics
import tempfile
import time

from bcs import config
from bcs.core.kv import sqlite
from bcs.core.offers import constraints, model, placement, pool
from bcs.plugins.mesos import objects, scheduler
from bcs.sim.mesos import sim

MARATHON_TASKS_PER_S = 500 / 14.2


def _app(instances: int) -> objects.AppSpec:
    spec = objects.parse(
        {
            "apiVersion": "v4",
            "kind": "application",
            "metadata": {"name": "bench"},
            "spec": {
                "instance": instances,
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "image": "x",
                                "ports": [{"containerPort": 80, "hostPort": 0, "name": "p"}],
                                "resources": {"limits": {"cpu": "0.2", "memory": "64"}},
                            }
                        ]
                    }
                },
            },
        }
    )
    assert isinstance(spec, objects.AppSpec)
    return spec


async def time_to_running(instances: int = 500, agents: int = 200) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        kv = sqlite.SqliteKV(pathlib.Path(tmp) / "kv.sqlite3", config.KvSettings())
        await kv.start()
        async with sim.MesosSim(agents=agents, seed=1, allocation_interval=0.05, cpus=8.0, mem=16384.0) as s:
            settings = scheduler.SchedulerSettings(tick=0.05, refuse_seconds=0.05)
            sched = scheduler.Scheduler(
                cluster_id="BCS-MESOS-10001", masters=[s.url], kv=kv, prefix="/b/", settings=settings
            )
            await sched.start()
            await sched.client.connected.wait()
            while len(sched.pool) < agents:  # noqa: ASYNC110 - polling a benchmark condition
                await asyncio.sleep(0.01)
            started = time.perf_counter()
            sched.submit_app(_app(instances))
            while sum(tg.status == "Running" for tg in sched.taskgroups.values()) < instances:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            await sched.stop()
        await kv.close()
    return elapsed


def _pool(agents: int) -> pool.OfferPool:
    p = pool.OfferPool()
    for i in range(agents):
        p.add(
            model.Offer(
                id=f"o{i}",
                agent_id=f"a{i}",
                hostname=f"h{i}",
                cpus=16,
                mem=65536,
                ports=[(31000, 32000)],
                attributes={"zone": f"z{i % 4}"},
            )
        )
    return p


def _constraint() -> constraints.Constraint:
    return constraints.parse(
        {
            "intersectionItem": [
                {"unionData": [{"name": "hostname", "operate": "UNIQUE"}]},
                {
                    "unionData": [
                        {
                            "name": "zone",
                            "operate": "GROUPBY",
                            "type": 4,
                            "set": {"item": ["z0", "z1", "z2", "z3"]},
                        }
                    ]
                },
            ]
        }
    )


def placements_per_second(agents: int = 1000, apps: int = 10) -> float:
    p, index, c = _pool(agents), constraints.Index(), _constraint()
    requests = [
        model.Request(key=f"{a}-{i}", group=f"app{a}", cpus=0.1, mem=64, ports=1, constraint=c)
        for a in range(apps)
        for i in range(agents)
    ]
    started = time.perf_counter()
    placed, _ = placement.place(requests, p, index)
    return len(placed) / (time.perf_counter() - started)


def decision_p99_ms(agents: int = 1000, samples: int = 2000) -> float:
    p, index, c = _pool(agents), constraints.Index(), _constraint()
    times = []
    for i in range(samples):
        r = model.Request(key=f"d{i}", group=f"g{i % 50}", cpus=0.01, mem=1, constraint=c)
        started = time.perf_counter()
        placement.place([r], p, index)
        times.append(time.perf_counter() - started)
    return statistics.quantiles(times, n=100)[98] * 1000


def main() -> None:
    elapsed = asyncio.run(time_to_running())
    rate = 500 / elapsed
    print(
        f"500 instances on 200 agents: all RUNNING in {elapsed:.2f}s ({rate:.0f} tasks/s; "
        f"{rate / MARATHON_TASKS_PER_S:.1f}x Marathon's 35/s; goal <= 5 s)"
    )
    pps = placements_per_second()
    print(f"placements/s, UNIQUE + GROUPBY, 1,000 agents: {pps:.0f} (goal >= 200; {pps / 200:.1f}x)")
    p99 = decision_p99_ms()
    print(f"offer-decision p99 over a 1,000-offer pool: {p99:.2f} ms (goal <= 10 ms)")


if __name__ == "__main__":
    main()
