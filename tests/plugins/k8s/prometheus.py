"""A real Prometheus server for tests: ``await start_prometheus(tmp_path, targets)``.

Runs the Debian ``prometheus`` binary on a free port with a temporary config scraping ``targets``
(``host:port`` strings) every second, and waits until it is ready. The test fails (never skips) when the
binary is missing: ``make test`` installs it (``apt-get install -y prometheus``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
import yaml

__all__ = ["Prometheus", "start_prometheus", "find_binary"]

CANDIDATES = ("/usr/bin/prometheus", "/usr/local/bin/prometheus")


def find_binary() -> str:
    found = os.environ.get("BCS_TEST_PROMETHEUS") or shutil.which("prometheus")
    for path in (found, *CANDIDATES):
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail("the prometheus binary is needed (apt-get install -y prometheus); make test installs it")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.define
class Prometheus:
    url: str
    proc: asyncio.subprocess.Process
    log: Path

    async def query(self, promql: str) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"{self.url}/api/v1/query", params={"query": promql}) as r,
        ):
            return await r.json()

    async def wait_for_sample(self, promql: str, *, timeout: float = 30.0) -> None:
        """Poll until ``promql`` returns a non-empty vector (the target has been scraped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                body = await self.query(promql)
                if body.get("status") == "success" and body["data"]["result"]:
                    return
            await asyncio.sleep(0.2)
        pytest.fail(
            f"prometheus did not scrape {promql!r} within {timeout}s; log: {self.log.read_text()[-2000:]}"
        )

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_prometheus(tmp_path: Path, targets: list[str], *, timeout: float = 30.0) -> Prometheus:
    """Start Prometheus scraping ``targets`` every second; returns once ``/-/ready`` answers 200."""
    binary = find_binary()
    root = tmp_path / "prometheus"
    (root / "data").mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "test", "static_configs": [{"targets": list(targets)}]}],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = root / "prometheus.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
            stdout=out,
            stderr=out,
        )
    prom = Prometheus(url=f"http://127.0.0.1:{port}", proc=proc, log=log)
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while True:
            if proc.returncode is not None:
                pytest.fail(f"prometheus exited with {proc.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{prom.url}/-/ready") as r:
                    if r.status == 200:
                        return prom
            if time.monotonic() > deadline:
                await prom.stop()
                pytest.fail(f"prometheus not ready within {timeout}s: {log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
