"""``bcs demo``: one command brings up the gateway and two simulated clusters registered through the
kube agent; the printed kubeconfigs work with kubectl; Ctrl-C (SIGTERM) stops everything."""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import signal
import ssl
import subprocess
import sys

import aiohttp
import pytest

from tests import services
from tests.e2e import conftest

KUBECTL = "/usr/bin/kubectl"


async def test_demo_brings_up_two_registered_clusters_and_stops_cleanly(tmp_path: pathlib.Path) -> None:
    if not os.access(KUBECTL, os.X_OK):
        pytest.fail(f"{KUBECTL} is needed: this test drives the real kubectl binary")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCS_")}
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [
            sys.executable,
            "-m",
            "bcs",
            "demo",
            "--data-dir",
            str(tmp_path / "demo"),
            "--port",
            "0",
            "--nodes",
            "1",
        ],
        cwd=conftest.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read_until_ready() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                return

    try:
        await asyncio.wait_for(asyncio.to_thread(read_until_ready), 90)
        text = "".join(lines)
        kubeconfigs = re.findall(r"kubectl --kubeconfig (\S+) get nodes", text)
        assert len(kubeconfigs) == 2, text
        for i, path in enumerate(kubeconfigs):
            cache = tmp_path / f"home{i}" / "cache"
            out = await asyncio.to_thread(
                subprocess.run,
                [KUBECTL, f"--kubeconfig={path}", f"--cache-dir={cache}", "get", "nodes", "-o", "name"],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "HOME": str(cache.parent)},
            )
            assert (out.returncode, out.stdout.split()) == (0, ["node/node-0"]), out.stderr
        url = re.search(r"gateway:\s+(https://\S+)\s+\(CA: (\S+)\)", text)
        assert url is not None, text
        token_file = re.search(r"admin token:\s+(\S+)", text)
        assert token_file is not None
        token = (await asyncio.to_thread(pathlib.Path(token_file.group(1)).read_text)).strip()
        query = re.search(r"(https://\S+/bcsapi/v4/storage/\S+)", text)
        assert query is not None
        trust = ssl.create_default_context(cafile=url.group(2))
        async with (
            aiohttp.ClientSession() as session,
            session.get(query.group(1), headers={"Authorization": f"Bearer {token}"}, ssl=trust) as r,
        ):
            assert r.status == 200
            assert (await r.json())["result"] is True
        assert token not in text
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.to_thread(proc.wait, 60)
    assert rc == 0
    gateway = url.group(1)

    async def refused() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{gateway}/healthz", ssl=trust):
                return False
        except aiohttp.ClientConnectionError:
            return True

    await services.eventually(refused, what="the gateway gone after the demo stopped")
