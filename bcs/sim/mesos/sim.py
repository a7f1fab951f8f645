"""The in-process simulated Mesos master: ``async with MesosSim(agents=5) as sim: sim.url``.

``sim.master`` gives direct access to agents, frameworks, tasks and offers; the fault-injection
methods here are the same operations the ``/admin`` routes expose.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bcs.sim.mesos import agents, faults, master, server, tasks

__all__ = ["MesosSim"]


class MesosSim:
    """A served simulated master; keyword arguments past host/port go to ``master.Master``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **master_kw: Any) -> None:
        self.host = host
        self.port = port
        self.master = master.Master(**master_kw)
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def address(self) -> str:
        """``host:port``, the form pymesos takes as its master URI."""
        return f"{self.master.host}:{self.port}"

    @property
    def agents(self) -> list[agents.Agent]:
        return list(self.master.agents.values())

    def tasks(self) -> list[tasks.Task]:
        return [t for fw in self.master.frameworks.values() for t in fw.tasks.values()]

    def history(self) -> list[tasks.Task]:
        """Every task of the connected frameworks: live, and completed (the last 1,000 each)."""
        return [t for fw in self.master.frameworks.values() for t in [*fw.completed, *fw.tasks.values()]]

    async def start(self) -> MesosSim:
        # handler_cancellation: a client that goes away cancels its stream handler at once, which
        # is how the master notices a disconnected framework (and starts its failover timer).
        self._runner = web.AppRunner(
            server.make_app(self.master), access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.master.host, self.master.port = shown, self.port
        self.url = f"http://{shown}:{self.port}"
        await self.master.start()
        return self

    async def stop(self) -> None:
        await self.master.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MesosSim:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- fault injection ---------------------------------------------------------------------------

    def lose_agent(self, agent: str | int) -> agents.Agent:
        return faults.lose_agent(self.master, agent)

    def recover_agent(self, agent: str | int) -> agents.Agent:
        return faults.recover_agent(self.master, agent)

    def remove_agent(self, agent: str | int) -> agents.Agent:
        return faults.remove_agent(self.master, agent)

    def fail_task(
        self, task_id: str, *, message: str | None = None, framework_id: str | None = None
    ) -> tasks.Task:
        return faults.fail_task(self.master, task_id, message=message, framework_id=framework_id)

    def finish_task(self, task_id: str, *, framework_id: str | None = None) -> tasks.Task:
        return faults.finish_task(self.master, task_id, framework_id=framework_id)

    def set_health(self, task_id: str, healthy: bool, *, framework_id: str | None = None) -> tasks.Task:
        return faults.set_health(self.master, task_id, healthy, framework_id=framework_id)

    def restart_master(self, downtime: float = 0.5) -> None:
        faults.restart_master(self.master, downtime)
