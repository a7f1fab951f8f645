"""The ``bcs`` command line, run as a real process."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import bcs

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_bcs(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bcs", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = run_bcs("--help")
    assert result.returncode == 0
    for command in (
        "serve",
        "config",
        "version",
        "sim",
        "demo",
        "agent",
        "operator",
        "crds",
        "mesos",
        "cluster",
    ):
        assert command in result.stdout
    assert "Exit codes" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["config", "check"],
        ["version"],
        ["demo"],
        ["sim", "kube"],
        ["sim", "mesos"],
        ["agent", "kube"],
        ["agent", "watch"],
        ["operator"],
        ["crds", "install"],
        ["mesos"],
        ["cluster", "list"],
        ["token", "create"],
        ["kubeconfig"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = run_bcs(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: bcs {' '.join(command)}")


def test_version() -> None:
    result = run_bcs("version")
    assert (result.returncode, result.stdout) == (0, f"bcs {bcs.__version__}\n")


def test_config_check_prints_masked_effective_config() -> None:
    result = run_bcs(
        "config",
        "check",
        "--config",
        "config/bcs.toml",
        env={"BCS_ADMIN_TOKEN": "s3cret", "BCS_SERVER__PORT": "9999"},
    )
    assert result.returncode == 0, result.stderr
    effective = json.loads(result.stdout)
    assert effective["server"]["port"] == 9999
    assert effective["auth"]["admin_token"] == "***"
    assert "s3cret" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[server]\nprot = 1\n", "server.prot: unknown key"),
        ("[server]\nport = 'x'\n", "server.port: expected integer, got string 'x'"),
        ("[server\n", "invalid TOML"),
        ("[plugins.k8s]\noperators = ['nope']\n", "plugins.k8s.operators: 'nope' is not one of"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path: pathlib.Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    for command in (["config", "check"], ["serve"]):
        result = run_bcs(*command, "--config", str(path))
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(path) in lines[0]
        assert expected in lines[0]


def test_missing_config_file_exits_2(tmp_path: pathlib.Path) -> None:
    result = run_bcs("config", "check", "--config", str(tmp_path / "none.toml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"bcs: configuration error: {tmp_path / 'none.toml'}: no such file"


def test_unknown_command_is_usage_error() -> None:
    result = run_bcs("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
