"""The simulator held to an independent client: pymesos 0.3.15 drives it from a subprocess.

pymesos is thread-based and takes over SIGINT on import, so it runs in ``pymesos_driver.py`` (a child
process) and reports what it saw as JSON lines; the test steers it through stdin.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import pathlib
import sys
from typing import Any

import pytest

from bcs.sim.mesos import sim
from tests.sim.mesos.conftest import until

DRIVER = pathlib.Path(__file__).with_name("pymesos_driver.py")


class Driver:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read(), name="pymesos-driver-reader")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(json.loads(raw))

    async def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()

    def seen(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line["event"] == event and all(line.get(k) == v for k, v in match.items())
        ]

    async def wait(self, event: str, **match: Any) -> dict[str, Any]:
        found = await until(lambda: self.seen(event, **match), timeout=20, what=f"pymesos {event} {match}")
        return found[0]

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        await asyncio.gather(self._reader, return_exceptions=True)


async def test_pymesos_subscribes_launches_acks_and_survives_restart(tmp_path: pathlib.Path) -> None:
    if importlib.util.find_spec("pymesos") is None:
        pytest.fail("pymesos 0.3.15 is needed (see components.md for the http-parser recipe)")
    async with sim.MesosSim(agents=2, seed=21, allocation_interval=0.05) as s:
        with (tmp_path / "pymesos.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(DRIVER),
                s.address,
                "--tasks",
                "2",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        driver = Driver(proc)
        try:
            registered = await driver.wait("registered")
            fid = registered["framework_id"]
            assert fid == f"{s.master.master_id}-0000"
            assert registered["master"]["version"] == "1.11.0"
            offers = (await driver.wait("offers"))["offers"]
            assert {o["hostname"] for o in offers} == {"agent-0", "agent-1"}
            assert offers[0]["resources"]["cpus"] == 4.0
            for task_id in ("t0", "t1"):
                running = await driver.wait("update", task_id=task_id, state="TASK_RUNNING")
                assert running["has_uuid"]
                assert running["source"] == "SOURCE_EXECUTOR"
                assert [u["state"] for u in driver.seen("update", task_id=task_id)] == [
                    "TASK_STARTING",
                    "TASK_RUNNING",
                ]
            fw = s.master.frameworks[fid]
            # pymesos acknowledged every update: nothing is left waiting in the agents' queues.
            await until(lambda: all(not t.pending for t in fw.tasks.values()), what="acks from pymesos")

            s.restart_master(downtime=0.3)
            await driver.wait("disconnected")
            again = await driver.wait("reregistered")
            assert again["framework_id"] == fid
            assert sorted(s.master.frameworks[fid].tasks) == ["t0", "t1"]
            after = driver.lines.index(again)
            await until(
                lambda: any(line["event"] == "offers" for line in driver.lines[after:]),
                what="offers after re-registration",
            )

            await driver.send(cmd="kill", task_id="t1")
            await driver.wait("update", task_id="t1", state="TASK_KILLING")
            await driver.wait("update", task_id="t1", state="TASK_KILLED")

            await driver.send(cmd="reconcile", task_ids=["t0"])
            answer = await driver.wait("update", task_id="t0", reason="REASON_RECONCILIATION")
            assert (answer["state"], answer["has_uuid"]) == ("TASK_RUNNING", False)

            t0_agent = fw.tasks["t0"].agent_id
            data = base64.b64encode(b"ping").decode()
            await driver.send(cmd="message", agent_id=t0_agent, executor_id="t0", data=data)
            echo = await driver.wait("message")
            assert (echo["executor_id"], echo["agent_id"], echo["data"]) == ("t0", t0_agent, data)

            s.lose_agent(t0_agent)
            await driver.wait("agent_lost", agent_id=t0_agent)
            lost = await driver.wait("update", task_id="t0", state="TASK_LOST")
            assert lost["reason"] == "REASON_AGENT_REMOVED"

            await driver.send(cmd="stop")
            await driver.wait("stopped")
            assert await asyncio.wait_for(proc.wait(), 20) == 0
            assert fid in s.master.removed_ids  # stop() without failover sends TEARDOWN
            assert not driver.seen("aborted")
            assert not driver.seen("error")
        finally:
            await driver.close()
