"""Run the real ``bcs serve`` process."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import threading

import attrs
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVING = re.compile(r"serving on (http://\S+)")


@attrs.define
class Served:
    process: subprocess.Popen[str]
    url: str
    output: list[str]

    def stop(self, *, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def serve(*args: str, env: dict[str, str], timeout: float = 60.0) -> Served:
    """Start ``bcs serve --port 0 ...`` and return once it printed its URL."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BCS_")}
    full_env.update(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "bcs", "serve", "--port", "0", *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            m = SERVING.search(line)
            if m and not found.is_set():
                url.append(m.group(1))
                found.set()
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(timeout) or not url:
        process.kill()
        process.wait()
        pytest.fail("bcs serve did not start:\n" + "".join(output))
    return Served(process=process, url=url[0], output=output)
