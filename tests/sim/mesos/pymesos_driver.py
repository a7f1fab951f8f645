"""A small pymesos scheduler run as a subprocess by the tests: JSON lines of what it saw on stdout.

pymesos is thread-based and installs a SIGINT handler on import, so it never runs inside pytest.
Usage: ``python pymesos_driver.py HOST:PORT --tasks N``. It launches N command tasks (``sleep 1000``,
0.1 cpus, 32 MB) on the offers it gets, declines the rest, lets pymesos acknowledge every update,
revives offers after re-registering, and obeys commands on stdin (one JSON object per line):
``{"cmd": "kill", "task_id": "t0"}``, ``{"cmd": "reconcile", "task_ids": [...]}``,
``{"cmd": "message", "agent_id": ..., "executor_id": ..., "data": "<base64>"}``, ``{"cmd": "stop"}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from typing import Any

from pymesos import MesosSchedulerDriver, Scheduler

__all__ = ["main"]

_out = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    with _out:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


def _scalar(cpus: float, mem: float) -> list[dict[str, Any]]:
    return [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]


class TestScheduler(Scheduler):
    def __init__(self, tasks: int) -> None:
        self.wanted = tasks
        self.launched = 0
        self.connected = False

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        self.connected = True
        emit("registered", framework_id=framework_id["value"], master=master_info)

    def reregistered(self, driver: Any, master_info: Any) -> None:
        self.connected = True
        emit("reregistered", framework_id=driver.framework_id, master=master_info)
        driver.reviveOffers()

    def disconnected(self, driver: Any) -> None:
        # pymesos calls this on every failed (re)connection attempt; report the transition only
        if self.connected:
            self.connected = False
            emit("disconnected")

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        emit(
            "offers",
            offers=[
                {
                    "id": o["id"]["value"],
                    "agent_id": o["agent_id"]["value"],
                    "hostname": o["hostname"],
                    "resources": {r["name"]: r.get("scalar", {}).get("value") for r in o["resources"]},
                    "attributes": o.get("attributes", []),
                }
                for o in offers
            ],
        )
        for offer in offers:
            if self.launched < self.wanted:
                task_id = f"t{self.launched}"
                self.launched += 1
                task = {
                    "name": task_id,
                    "task_id": {"value": task_id},
                    "agent_id": offer["agent_id"],
                    "resources": _scalar(0.1, 32.0),
                    "command": {"value": "sleep 1000"},
                }
                driver.launchTasks(offer["id"], [task], filters={"refuse_seconds": 1.0})
                emit("launched", task_id=task_id, agent_id=offer["agent_id"]["value"])
            else:
                driver.declineOffer(offer["id"], filters={"refuse_seconds": 1.0})

    def offerRescinded(self, driver: Any, offer_id: Any) -> None:
        emit("rescinded", offer_id=offer_id["value"])

    def statusUpdate(self, driver: Any, status: Any) -> None:
        emit(
            "update",
            task_id=status["task_id"]["value"],
            state=status["state"],
            source=status.get("source"),
            reason=status.get("reason"),
            has_uuid="uuid" in status,
            agent_id=(status.get("agent_id") or {}).get("value"),
        )

    def frameworkMessage(self, driver: Any, executor_id: Any, agent_id: Any, message: Any) -> None:
        emit("message", executor_id=executor_id["value"], agent_id=agent_id["value"], data=message)

    def slaveLost(self, driver: Any, agent_id: Any) -> None:
        emit("agent_lost", agent_id=agent_id["value"])

    def executorLost(self, driver: Any, executor_id: Any, agent_id: Any, status: Any) -> None:
        emit("executor_lost", executor_id=executor_id["value"], status=status)

    def error(self, driver: Any, message: str) -> None:
        emit("error", message=message)


def _command(driver: MesosSchedulerDriver, cmd: dict[str, Any]) -> bool:
    kind = cmd.get("cmd")
    if kind == "kill":
        driver.killTask({"value": cmd["task_id"]})
    elif kind == "reconcile":
        driver.reconcileTasks([{"task_id": {"value": t}} for t in cmd.get("task_ids", [])])
    elif kind == "message":
        driver.sendFrameworkMessage({"value": cmd["executor_id"]}, {"value": cmd["agent_id"]}, cmd["data"])
    elif kind == "stop":
        return False
    emit("done", cmd=kind)
    return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("master")
    parser.add_argument("--tasks", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    framework = {
        "user": "root",
        "name": "pymesos-test",
        "hostname": "localhost",
        "capabilities": [{"type": "TASK_KILLING_STATE"}],
    }
    driver = MesosSchedulerDriver(TestScheduler(args.tasks), framework, args.master)
    driver.start()
    emit("started")
    try:
        for line in sys.stdin:
            if line.strip() and not _command(driver, json.loads(line)):
                break
        driver.stop()
        driver.join()
    except KeyboardInterrupt as exc:  # pymesos interrupts the main thread when its IO thread dies
        emit("aborted", error=repr(exc))
        return 1
    emit("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
