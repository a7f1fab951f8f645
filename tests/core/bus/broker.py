"""An isolated RabbitMQ broker for tests that must stop and restart one (never the shared broker).

It gets its own epmd, node name, free ports and temporary directory, so it cannot collide with the
shared broker on 5672 or with another test run; :meth:`IsolatedBroker.stop` and
:meth:`IsolatedBroker.start` can be called repeatedly and keep the data directory, so durable
exchanges, queues and persistent messages survive a restart as on a real server.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import aio_pika

__all__ = ["RABBITMQ_SERVER", "IsolatedBroker"]

RABBITMQ_SERVER = pathlib.Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
START_DEADLINE = 60.0  # seconds; a boot takes 5-6 s on an idle 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class IsolatedBroker:
    """One private broker node. Use ``async with IsolatedBroker() as broker: ... broker.url``."""

    def __init__(self) -> None:
        self.run_dir = pathlib.Path(tempfile.mkdtemp(prefix="bcs-rabbit-"))
        self.port = _free_port()
        self.dist_port = _free_port()
        self.epmd_port = _free_port()
        self.node = f"bcs-test-{uuid.uuid4().hex[:8]}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self._epmd: subprocess.Popen[bytes] | None = None
        self._server: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        home = self.run_dir / "home"
        home.mkdir(exist_ok=True)
        return {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(self.run_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.run_dir / "log"),
            "RABBITMQ_PID_FILE": str(self.run_dir / "rabbit.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.run_dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.run_dir / "rabbitmq"),
        }

    async def start(self) -> None:
        """Start the node (and its epmd the first time); return once it accepts AMQP connections."""
        await asyncio.to_thread(self._spawn)
        await self._wait_ready()

    def _spawn(self) -> None:
        if self._epmd is None:
            self._epmd = subprocess.Popen(
                ["epmd", "-address", "127.0.0.1", "-port", str(self.epmd_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        with (self.run_dir / "server.out").open("ab") as log:
            # Its own session, so stop() can signal the wrapper script and the VM it starts together.
            self._server = subprocess.Popen(
                [str(RABBITMQ_SERVER)],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            assert self._server is not None
            if self._server.poll() is not None:
                raise RuntimeError(f"isolated broker exited early; see {self.run_dir / 'server.out'}")
            try:
                conn = await aio_pika.connect(self.url, timeout=2)
            except (aio_pika.exceptions.AMQPError, OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"isolated broker not ready after {START_DEADLINE} s") from None
                await asyncio.sleep(0.3)  # polling readiness, bounded by the deadline
                continue
            await conn.close()
            return

    async def stop(self) -> None:
        """Stop the node (SIGTERM, then SIGKILL after 30 s); keep its data for the next start()."""
        proc, self._server = self._server, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)

    async def close(self) -> None:
        """Stop the node and its epmd, and remove the data directory."""
        await self.stop()
        epmd, self._epmd = self._epmd, None
        if epmd is not None:
            epmd.terminate()
            await asyncio.to_thread(epmd.wait, 10)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    async def __aenter__(self) -> IsolatedBroker:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
