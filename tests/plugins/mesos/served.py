"""``bcs serve`` as a real process leading a Mesos cluster, for tests that kill it (driver endpoint
leases must outlive nothing: a process that dies without cleanup leaves its key to the lease)."""

from __future__ import annotations

import contextlib
import json
import pathlib
import subprocess
import sys
from typing import Any

import aiohttp
import attrs

from bcs.testing import ADMIN_TOKEN
from tests import services

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def write_config(
    path: pathlib.Path, sections: dict[str, dict[str, Any]], clusters: list[dict[str, Any]]
) -> None:
    lines = []
    for name, table in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    for cluster in clusters:
        lines.append("[[clusters]]")
        lines += [f"{k} = {_toml(v)}" for k, v in cluster.items()]
    path.write_text("\n".join(lines) + "\n")


@attrs.define
class BcsProcess:
    """One ``bcs serve`` on a fixed loopback port, plain HTTP, leading one Mesos cluster."""

    tmp_path: pathlib.Path
    cluster_id: str
    masters: list[str]
    kv: dict[str, Any]
    port: int = attrs.field(factory=services.free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> pathlib.Path:
        return self.tmp_path / "served"

    def start(self) -> None:
        config = self.tmp_path / "served.toml"
        write_config(
            config,
            {
                "server": {
                    "host": "127.0.0.1",
                    "port": self.port,
                    "tls": "off",
                    "data_dir": str(self.data_dir),
                },
                "auth": {
                    "admin_token": ADMIN_TOKEN,  # the gateways in front forward with the same token
                },
                "kv": self.kv,
                "plugins": {"disabled": ["k8s", "federation"]},
                "plugins.mesos": {"masters": self.masters, "tick": 0.1, "election_ttl": 3, "driver_ttl": 2},
            },
            [{"id": self.cluster_id, "engine": "mesos", "environment": "stag"}],
        )
        log = open(self.tmp_path / "served.log", "ab")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bcs", "serve", "--config", str(config)],
                cwd=ROOT,
                env={"PATH": "/usr/bin:/bin"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    async def leads(self) -> bool:
        """The driver API of the cluster answers (the process leads its scheduler)."""
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.tmp_path / "served.log").read_text()[-2000:]
            raise AssertionError(f"bcs serve exited with {self.process.returncode}:\n{log}")
        url = f"{self.url}/mesosdriver/v4/namespaces/defaultGroup/applications"
        with contextlib.suppress(aiohttp.ClientError):
            async with (
                aiohttp.ClientSession() as s,
                s.get(url, headers={"BCS-ClusterID": self.cluster_id, **ADMIN}) as r,
            ):
                return r.status == 200
        return False

    def kill(self) -> None:
        """SIGKILL: no cleanup runs, nothing is revoked."""
        proc, self.process = self.process, None
        if proc is not None:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        proc, self.process = self.process, None
        services.stop_process(proc)
