"""``[server] workers = N``: N server processes on one port (``SO_REUSEPORT``), sharing state in etcd,
MongoDB and RabbitMQ, so that throughput scales with cores.

The parent reserves the port (so ``port = 0`` resolves once), prepares the files every worker reads
(TLS material, the bootstrap admin token) so they do not race to create them, forks the workers,
prints the banner once they all listen, forwards SIGTERM/SIGINT to them, and exits when they have.
A worker that dies on its own stops the others (exit 1). The embedded adapters keep their state in
one process, so N of them would silently diverge: they are refused with a configuration error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import attrs

import bcs
from bcs import config, errors
from bcs.gateway import tls

__all__ = ["check_shared_state", "serve_workers"]

logger = logging.getLogger(__name__)
READY_TIMEOUT = 120.0


def check_shared_state(settings: config.BcsSettings) -> None:
    """ConfigError unless every port is a shared service (workers would not see each other's data)."""
    embedded = [
        f"{name} = {backend!r}"
        for name, backend, local in (
            ("kv.backend", settings.kv.backend, "sqlite"),
            ("store.backend", settings.store.backend, "sqlite"),
            ("bus.backend", settings.bus.backend, "memory"),
        )
        if backend == local
    ]
    if embedded:
        raise errors.ConfigError(
            f"{settings.source}: server.workers = {settings.server.workers} needs shared state "
            f"(kv = 'etcd', store = 'mongo', bus = 'rabbitmq'), but {', '.join(embedded)} is embedded "
            "in one process"
        )


def _reserve(host: str, port: int) -> socket.socket:
    """A bound, not listening, SO_REUSEPORT socket: fixes the port the workers then all bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _prepare(settings: config.BcsSettings) -> config.BcsSettings:
    """Make the shared files once, before forking."""
    from bcs import app as app_mod  # the composition root, only when serving

    settings.data_path.mkdir(parents=True, exist_ok=True)
    tls.prepare(settings.server, data_dir=settings.data_path)
    if not settings.auth.admin_token:
        token = app_mod._bootstrap_admin_token(settings.data_path)
        settings = attrs.evolve(settings, auth=attrs.evolve(settings.auth, admin_token=token))
    return settings


def _worker(
    serve: Callable[..., Coroutine[Any, Any, int]], settings: config.BcsSettings, ready_fd: int
) -> None:
    """The body of a forked worker; never returns."""
    code = 1
    try:
        code = asyncio.run(
            serve(settings, reuse_port=True, banner=False, ready=lambda _url: os.write(ready_fd, b"."))
        )
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        logger.exception("worker %d failed", os.getpid())
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait_ready(read_fd: int, pids: list[int]) -> bool:
    got, deadline = 0, time.monotonic() + READY_TIMEOUT
    while got < len(pids):
        ready, _, _ = select.select([read_fd], [], [], 0.2)
        if ready:
            got += len(os.read(read_fd, 64))
            continue
        if time.monotonic() > deadline or any(os.waitpid(p, os.WNOHANG)[0] for p in pids):
            return False
    return True


def serve_workers(settings: config.BcsSettings, *, serve: Callable[..., Coroutine[Any, Any, int]]) -> int:
    """Run ``settings.server.workers`` processes of ``serve``; see the module docstring."""
    check_shared_state(settings)
    settings = _prepare(settings)
    reserved = _reserve(settings.server.host, settings.server.port)
    port = reserved.getsockname()[1]
    settings = attrs.evolve(settings, server=attrs.evolve(settings.server, port=port))
    read_fd, write_fd = os.pipe()
    pids: list[int] = []
    for _ in range(settings.server.workers):
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            reserved.close()
            _worker(serve, settings, write_fd)
        pids.append(pid)
    os.close(write_fd)
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        if not _wait_ready(read_fd, pids):
            forward(signal.SIGTERM, None)
            print("bcs: the workers did not all start", file=sys.stderr)
            _reap(pids, lambda: True, forward)
            return 1
        reserved.close()
        files = tls.prepare(settings.server, data_dir=settings.data_path)
        scheme = "https" if files is not None else "http"
        host = settings.server.host
        shown = f"[{host}]" if ":" in host else host
        ca = f"; gateway CA: {files.ca_file}" if files is not None and files.ca_file else ""
        print(
            f"bcs {bcs.__version__} serving on {scheme}://{shown}:{port} with {len(pids)} workers "
            f"(config: {settings.source}{ca})",
            flush=True,
        )
        return _reap(pids, lambda: stopping, forward)
    finally:
        os.close(read_fd)
        reserved.close()


def _reap(pids: list[int], stopping: Callable[[], bool], stop_all: Callable[[int, object], None]) -> int:
    """Wait for every worker; one exiting on its own takes the others down (exit 1)."""
    code = 0
    alive = set(pids)
    while alive:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
            continue
        if pid not in alive:
            continue
        alive.discard(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if not stopping():
            logger.error("worker %d exited (%d) on its own; stopping the others", pid, exit_code)
            stop_all(signal.SIGTERM, None)
            code = 1
        elif exit_code not in (0, -signal.SIGTERM):
            code = code or 1
    return code
