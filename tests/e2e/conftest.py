"""Run the real ``bcs serve`` process."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import ssl
import subprocess
import sys
import threading

import attrs
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVING = re.compile(r"serving on (https?://\S+)")
GATEWAY_CA = re.compile(r"gateway CA: ([^)\s]+)")


@attrs.define
class Served:
    process: subprocess.Popen[str]
    url: str
    output: list[str]
    ca_file: str | None = None  # the generated gateway CA (tls = auto), trusted by ssl_context()

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting the gateway (None over plain http)."""
        if not self.url.startswith("https://"):
            return None
        return (
            ssl.create_default_context(cafile=self.ca_file) if self.ca_file else ssl.create_default_context()
        )

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
    """Start ``bcs serve --port 0 ...`` and return once it printed its URL (and, over https with a
    generated certificate, the gateway CA's path)."""
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

    ca: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            m = SERVING.search(line)
            if m and not found.is_set():
                url.append(m.group(1))
                ca.extend(GATEWAY_CA.findall(line))
                found.set()
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(timeout) or not url:
        process.kill()
        process.wait()
        pytest.fail("bcs serve did not start:\n" + "".join(output))
    return Served(process=process, url=url[0], output=output, ca_file=ca[0] if ca else None)


@attrs.define
class Process:
    """A ``python -m bcs ...`` child (without the caller's ``BCS_*`` settings) whose combined output is
    collected line by line."""

    popen: subprocess.Popen[str]
    output: list[str] = attrs.field(factory=list)

    @classmethod
    def start(cls, *args: str, env: dict[str, str] | None = None) -> Process:
        popen = subprocess.Popen(
            [sys.executable, "-m", "bcs", *args],
            cwd=ROOT,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("BCS_")}, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        proc = cls(popen)
        threading.Thread(target=proc._pump, daemon=True).start()
        return proc

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()
