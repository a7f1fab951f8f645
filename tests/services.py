"""Private backing services for tests that must stop and restart them, and shared KV adapter set-up.

``start_etcd(tmp_path)`` runs an etcd of its own (the ``etcd`` binary on PATH) on free ports, for
tests that kill it; the shared development etcd (``BCS_TEST_ETCD``) must never be stopped.
``open_kv(kind, ...)`` gives the started adapter of one kind, for suites parametrized over both;
``Collector`` drains a watch in a task and ``eventually`` polls a condition with a deadline.
The process helpers are synchronous (call them through ``asyncio.to_thread`` from async tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs

from bcs import config
from bcs.core.kv import etcd as kv_etcd
from bcs.core.kv import port as kv_port
from bcs.core.kv import sqlite as kv_sqlite

__all__ = [
    "KV_KINDS",
    "Collector",
    "EtcdProcess",
    "eventually",
    "free_port",
    "open_kv",
    "start_etcd",
    "stop_process",
    "unique_prefix",
]

KV_KINDS = ("sqlite", "etcd")


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_prefix(name: str = "t") -> str:
    """A key prefix no other test (or earlier run) uses."""
    return f"/bcs-test/{name}/{uuid.uuid4().hex}/"


@attrs.define
class EtcdProcess:
    """One private etcd member; ``stop()`` and ``start()`` keep the ports and the data dir."""

    data_dir: pathlib.Path
    client_port: int
    peer_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def command(self) -> list[str]:
        peer = f"http://127.0.0.1:{self.peer_port}"
        return [
            shutil.which("etcd") or "etcd",
            *("--name", "t", "--data-dir", str(self.data_dir)),
            *("--listen-client-urls", self.url, "--advertise-client-urls", self.url),
            *("--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer),
            *("--initial-cluster", f"t={peer}", "--log-level", "error", "--logger", "zap"),
        ]

    def start(self, *, timeout: float = 15.0) -> None:
        """Start etcd and return once ``/health`` answers."""
        if shutil.which("etcd") is None:
            raise RuntimeError("the `etcd` binary is needed on PATH (Debian package etcd-server)")
        log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.process.returncode}; see {log.name}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                if b"true" in r.read():
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"etcd on {self.url} was not healthy within {timeout}s")

    def stop(self, *, timeout: float = 15.0) -> None:
        """SIGTERM etcd and wait for it to exit (SIGKILL past ``timeout``)."""
        proc, self.process = self.process, None
        stop_process(proc, timeout=timeout)

    def remove(self) -> None:
        """Stop it and delete its data dir (etcd preallocates ~64 MB of WAL)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def stop_process(proc: subprocess.Popen[bytes] | None, *, timeout: float = 15.0) -> None:
    """SIGTERM a test service and wait for it to exit (SIGKILL past ``timeout``); None is a no-op."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_etcd(tmp_path: pathlib.Path) -> EtcdProcess:
    """A fresh private etcd under ``tmp_path``; the caller stops it (``remove()``) in a finally."""
    data_dir = tmp_path / f"etcd-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    member = EtcdProcess(data_dir=data_dir, client_port=free_port(), peer_port=free_port())
    member.start()
    return member


@contextlib.asynccontextmanager
async def open_kv(
    kind: str, *, tmp_path: pathlib.Path, etcd_url: str | None = None
) -> AsyncIterator[kv_port.KV]:
    """The started KV adapter of ``kind`` ("sqlite" in ``tmp_path``, or "etcd" at ``etcd_url``)."""
    if kind == "sqlite":
        store: kv_port.KV = kv_sqlite.SqliteKV(tmp_path / "kv.sqlite3", config.KvSettings())
    elif kind == "etcd":
        assert etcd_url, "the etcd adapter needs an endpoint"
        store = kv_etcd.EtcdKV(config.KvSettings(backend="etcd", endpoints=(etcd_url,), timeout=5.0))
    else:
        raise ValueError(f"unknown KV kind {kind!r}")
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def eventually(
    check: Callable[[], Any], *, timeout: float = 10.0, what: str = "the condition", every: float = 0.02
) -> Any:
    """Poll ``check`` (sync or async) every ``every`` s until it returns something truthy (returned);
    fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(every)


class Collector:
    """Drains an async iterator (a watch) into ``events`` from a task; ``close()`` it in a finally."""

    def __init__(self, iterator: AsyncIterator[Any], *, name: str = "test-watch") -> None:
        self.events: list[Any] = []
        self._task = asyncio.create_task(self._drain(iterator), name=name)

    async def _drain(self, iterator: AsyncIterator[Any]) -> None:
        async with contextlib.aclosing(iterator):  # type: ignore[type-var]
            async for item in iterator:
                self.events.append(item)

    @property
    def done(self) -> bool:
        return self._task.done()

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Any]:
        """The first ``count`` events, once they have arrived (re-raising the watch's error)."""

        def arrived() -> bool:
            if self._task.done() and len(self.events) < count:
                self._task.result()  # raises the watch's error, if any
                raise AssertionError(f"the watch ended after {len(self.events)} of {count} events")
            return len(self.events) >= count

        await eventually(arrived, timeout=timeout, what=f"{count} watch events (have {len(self.events)})")
        return self.events[:count]

    async def finished(self, *, timeout: float = 10.0) -> None:
        """Wait for the iterator to end by itself; re-raise its error."""
        await eventually(lambda: self._task.done(), timeout=timeout, what="the end of the watch")
        self._task.result()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
