"""``bcs sim mesos``: help text, serving with an attributes file, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import signal
import sys

import aiohttp

from bcs.sim.mesos import cli


async def _run(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bcs",
        "sim",
        "mesos",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_help_summary_and_flags() -> None:
    proc = await _run("--help")
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    text = out.decode()
    assert (cli.__doc__ or "").strip().splitlines()[0] in text
    for flag in (
        "--agents",
        "--cpus",
        "--mem",
        "--disk",
        "--ports",
        "--attributes",
        "--seed",
        "--heartbeat-interval",
    ):
        assert flag in text


async def test_serves_agents_from_flags_and_file_until_sigterm(tmp_path: pathlib.Path) -> None:
    attrs = tmp_path / "attrs.json"
    attrs.write_text(json.dumps({"agents": [{"hostname": "h0", "attributes": {"rack": "r9"}}]}))
    proc = await _run(
        "--port", "0", "--agents", "2", "--cpus", "2", "--mem", "1024", "--ports", "4000-4010",
        "--attributes", str(attrs), "--seed", "3", "--heartbeat-interval", "5",
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = re.search(r"http://\S+", line)
        assert url, line
        async with aiohttp.ClientSession() as session, session.get(f"{url.group(0)}/master/state") as r:
            state = await r.json()
        slaves = {s["hostname"]: s for s in state["slaves"]}
        assert set(slaves) == {"h0", "agent-1"}
        assert slaves["h0"]["attributes"] == {"rack": "r9"}
        assert slaves["agent-1"]["resources"]["cpus"] == 2.0
        assert slaves["agent-1"]["resources"]["mem"] == 1024.0
        assert slaves["agent-1"]["resources"]["ports"] == "[4000-4010]"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_bad_attributes_file_exits_1(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("agents: [unclosed")
    proc = await _run("--attributes", str(bad))
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert "bcs sim mesos:" in err.decode()
