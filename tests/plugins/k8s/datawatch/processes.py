"""Private service processes the fault tests stop and start: a SecantusDB (MongoDB-wire) server, and a
simulated cluster served on a port that can go away and come back (the shared services never stop)."""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
import time

import attrs
import pymongo
from aiohttp import web

from bcs.sim.kube import cluster as sim_cluster
from bcs.sim.kube import server as sim_server
from tests import services
from tests.services import free_port

__all__ = ["SecantusProcess", "SimServer"]

SECANTUSD = pathlib.Path(sys.executable).parent / "secantusd-py"


@attrs.define
class SecantusProcess:
    """One SecantusDB server; ``stop()``/``start()`` keep its port and data."""

    path: pathlib.Path
    port: int = attrs.field(factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, *, timeout: float = 60.0) -> None:
        """Start it and return once it answers a ping (a boot takes a few seconds)."""
        self.path.mkdir(parents=True, exist_ok=True)
        log = open(self.path.parent / f"{self.path.name}.log", "ab")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [SECANTUSD, "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", self.path],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"secantusd exited with {self.process.returncode}; see {log.name}")
            with contextlib.suppress(pymongo.errors.PyMongoError):
                with pymongo.MongoClient(self.url, serverSelectionTimeoutMS=300) as c:
                    c.admin.command("ping")
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"secantusd on port {self.port} did not answer within {timeout}s")

    def stop(self, *, timeout: float = 15.0) -> None:
        proc, self.process = self.process, None
        services.stop_process(proc, timeout=timeout)


class SimServer:
    """A simulated cluster (no TLS, no auth) on a fixed port whose HTTP server can be taken away."""

    def __init__(self, **cluster_kw: object) -> None:
        self.cluster = sim_cluster.Cluster(require_auth=False, **cluster_kw)  # type: ignore[arg-type]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cluster.address = f"127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None

    async def serve(self) -> None:
        self._runner = web.AppRunner(sim_server.make_app(self.cluster), access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def unserve(self) -> None:
        """Stop answering: open watches end, new connections are refused."""
        self.cluster.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.cluster.start()
        await self.serve()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.unserve()
        await self.cluster.stop()
