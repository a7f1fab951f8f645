"""``bcs crds install`` and ``bcs operator`` entry points; the CRDs as kubectl sees them."""

from __future__ import annotations

import argparse
import asyncio
import os

import pytest

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import cli
from bcs.plugins.k8s.operators.hook import model
from bcs.sim.kube import cluster

KUBECTL = "/usr/bin/kubectl"


async def _kubectl(sim: cluster.KubeSim, tmp_path: object, *args: str) -> str:
    if not os.access(KUBECTL, os.X_OK):
        pytest.fail(f"{KUBECTL} is needed")
    proc = await asyncio.create_subprocess_exec(
        KUBECTL, f"--kubeconfig={sim.kubeconfig}", f"--cache-dir={tmp_path}/cache", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_install_crds_serves_both_kinds_with_printer_columns(
    kube_sim: cluster.KubeSim, kube: client.KubeClient, tmp_path: object
) -> None:
    names = await cli.install_crds(kube_sim.kubeconfig)
    assert {"hookruns.tkex.tencent.com", "hooktemplates.tkex.tencent.com"} <= set(names)
    assert await cli.install_crds(kube_sim.kubeconfig) == names  # idempotent (server-side apply)
    run = {
        "metadata": {"name": "r"},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://x"}}}]},
    }
    created = await kube.create(model.HOOKRUNS, "default", run)
    await kube.replace(
        model.HOOKRUNS, "default", "r", {**created, "status": {"phase": "Running"}}, sub="status"
    )
    out = await _kubectl(kube_sim, tmp_path, "get", "hookruns")
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "PHASE", "AGE"]
    assert row.split()[:2] == ["r", "Running"]
    # The status subresource: a spec write through the main resource does not touch status.
    again = await kube.get(model.HOOKRUNS, "default", "r")
    again["status"] = {"phase": "Failed"}
    await kube.replace(model.HOOKRUNS, "default", "r", again)
    assert (await kube.get(model.HOOKRUNS, "default", "r"))["status"]["phase"] == "Running"
    tmpl = {"metadata": {"name": "t"}, "spec": {"metrics": run["spec"]["metrics"], "policy": "Ordered"}}
    await kube.create(model.HOOKTEMPLATES, "default", tmpl)
    out = await _kubectl(kube_sim, tmp_path, "get", "hooktemplates")
    assert out.splitlines()[0].split() == ["NAME", "POLICY", "AGE"]


def test_parsers_and_run_crds_report_errors(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    args = parser.parse_args(["--kubeconfig", "k", "--operators", "hook", "--lease-duration", "5"])
    assert (args.kubeconfig, args.operators, args.lease_duration) == ("k", "hook", 5.0)
    crds = argparse.ArgumentParser()
    cli.configure_crds_parser(crds)
    bad = crds.parse_args(["--kubeconfig", "/nonexistent/kubeconfig"])
    assert cli.run_crds(bad) == 1
    assert "cannot load cluster credentials" in capsys.readouterr().out


async def test_unknown_operator_is_a_config_error(kube: client.KubeClient) -> None:
    from bcs import errors

    with pytest.raises(errors.ConfigError):
        await cli.run_operators(kube, operators=["nope"])
