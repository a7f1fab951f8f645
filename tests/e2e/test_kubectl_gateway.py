"""The issue's user test, with real processes: ``bcs serve`` (HTTPS with its generated CA),
``bcs sim kube``, ``bcs agent kube`` registering the cluster, and /usr/bin/kubectl through the gateway.

kubectl sends tokens only over TLS, so this is also the test of the gateway's TLS: kubectl trusts
only the CA embedded in the kubeconfig the gateway hands out.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest

from bcs.plugins.k8s import agent as agent_module
from tests import services
from tests.e2e import conftest

KUBECTL = "/usr/bin/kubectl"
CID = "BCS-K8S-40001"
CM = "/bcsapi/v4/clustermanager/v1"
UM = "/bcsapi/v4/usermanager"
SIM_LINE = re.compile(r"cluster sim-0: (\S+) kubeconfig=(\S+)")
MANIFEST = """
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  labels: {app: web}
spec:
  containers:
  - name: main
    image: nginx:1.27
"""
pytestmark = pytest.mark.e2e


@attrs.define
class Gateway:
    served: conftest.Served
    admin: str
    work: pathlib.Path
    secrets: list[str] = attrs.field(factory=list)  # every token seen: none may appear in any log

    async def call(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.admin}"} if token != "" else {}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, self.served.url + path, headers=headers, ssl=self.served.ssl_context(), **kw
            ) as r,
        ):
            text = await r.text()
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                return r.status, text

    async def kubeconfig(self, name: str, token: str) -> str:
        """``bcs kubeconfig CID`` run as ``token``'s owner; the path of the kubeconfig it printed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BCS_")}
        env["BCS_TOKEN"] = token
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bcs", "kubeconfig", CID, "--server", self.served.url),
            *("--ca-file", str(self.served.ca_file)),
            cwd=conftest.ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        path = self.work / f"{name}.kubeconfig"
        path.write_bytes(out)
        return str(path)


async def kubectl(
    kubeconfig: str, *args: str, cache: pathlib.Path, check: bool = True
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        f"--kubeconfig={kubeconfig}",
        f"--cache-dir={cache}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(cache.parent)},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    result = (proc.returncode or 0, out.decode(), err.decode())
    if check and result[0] != 0:
        pytest.fail(f"kubectl {' '.join(args)} failed ({result[0]}):\n{result[2]}\n{result[1]}")
    return result


@pytest.fixture
async def world(tmp_path: pathlib.Path) -> AsyncIterator[tuple[Gateway, conftest.Process, conftest.Process]]:
    if not os.access(KUBECTL, os.X_OK):
        pytest.fail(f"{KUBECTL} is needed: this test drives the real kubectl binary")
    env = {
        "BCS_SERVER__DATA_DIR": str(tmp_path / "data"),
        "BCS_GATEWAY__PROBE_INTERVAL": "0.2",
        "BCS_GATEWAY__UNAVAILABLE_AFTER": "1.0",
    }
    served = await asyncio.to_thread(conftest.serve, "--config", "config/bcs.toml", env=env)
    sim = conftest.Process.start(
        "sim", "kube", "--clusters", "1", "--nodes", "1", "--kubeconfig-out", str(tmp_path / "sim")
    )
    agent: conftest.Process | None = None
    try:
        assert served.url.startswith("https://")
        assert served.ca_file is not None
        admin = (tmp_path / "data" / "admin-token").read_text().strip()
        gw = Gateway(served=served, admin=admin, work=tmp_path)
        match = await services.eventually(lambda: SIM_LINE.search(sim.text()), what="the simulator's address")
        sim_kubeconfig = match.group(2)
        status, body = await gw.call("POST", f"{CM}/cluster", json={"clusterID": CID, "clusterName": "sim-0"})
        assert status == 200, body
        status, body = await gw.call("POST", f"{UM}/v1/clusters/{CID}/register_tokens")
        assert status == 200, body
        register_token = body["data"]["token"]
        started = time.monotonic()
        agent = conftest.Process.start(
            *("agent", "kube", "--gateway", served.url, "--cluster-id", CID),
            *("--kubeconfig", sim_kubeconfig, "--gateway-ca", served.ca_file),
            env={"USER_TOKEN": register_token},
        )

        async def routable() -> bool:
            status, _ = await gw.call("GET", f"/clusters/{CID}/version")
            return status == 200

        await services.eventually(routable, timeout=30, what="the agent's registration")
        print(f"agent start to routable: {time.monotonic() - started:.2f}s")
        gw.secrets += [admin, register_token, agent_module.from_kubeconfig(sim_kubeconfig).token]
        yield gw, sim, agent
        logs = served.output + sim.output + agent.output
        assert any(f'"GET /clusters/{CID}/api/v1/' in line for line in served.output)  # the access log
        for secret in gw.secrets:
            assert not [line for line in logs if secret in line], "a token appears in the logs"
    finally:
        if agent is not None:
            agent.stop()
        sim.stop()
        await asyncio.to_thread(served.stop)


async def test_kubectl_through_the_gateway(
    world: tuple[Gateway, conftest.Process, conftest.Process], tmp_path: pathlib.Path
) -> None:
    gw, sim, _agent = world
    cache = tmp_path / "home" / "cache"
    admin_kc = await gw.kubeconfig("admin", gw.admin)

    _, out, _ = await kubectl(admin_kc, "get", "nodes", cache=cache)
    assert "node-0" in out

    manifest = tmp_path / "pod.yaml"
    manifest.write_text(MANIFEST)
    watch = await asyncio.create_subprocess_exec(
        KUBECTL,
        f"--kubeconfig={admin_kc}",
        f"--cache-dir={cache}",
        "get",
        "pods",
        "-w",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(cache.parent)},
    )
    try:
        _, out, _ = await kubectl(admin_kc, "apply", "-f", str(manifest), cache=cache)
        assert "pod/web-1 created" in out
        assert watch.stdout is not None
        seen = b""
        while b"Running" not in seen:  # the watch shows the pod appear and then start
            seen += await asyncio.wait_for(watch.stdout.readline(), 20)
        assert b"web-1" in seen
    finally:
        watch.terminate()
        await watch.wait()

    _, out, _ = await kubectl(admin_kc, "exec", "web-1", "--", "echo", "hi", cache=cache)
    assert out == "hi\n"
    _, out, _ = await kubectl(admin_kc, "logs", "web-1", cache=cache)
    assert out.strip()

    # A viewer reads, and is refused (403 Status) when it writes; nothing changes.
    status, body = await gw.call("POST", f"{UM}/v1/users/plain/vera")
    assert status == 200, body
    viewer_token = body["data"]["user_token"]
    gw.secrets.append(viewer_token)
    entry = {"user_name": "vera", "resource_type": "cluster", "resource": CID, "role": "viewer"}
    status, body = await gw.call("POST", f"{UM}/v1/permissions", json={"spec": {"permissions": [entry]}})
    assert status == 200, body
    viewer_kc = await gw.kubeconfig("viewer", viewer_token)
    _, out, _ = await kubectl(viewer_kc, "get", "pods", cache=cache)
    assert "web-1" in out
    rc, _, err = await kubectl(viewer_kc, "run", "intruder", "--image=nginx", cache=cache, check=False)
    assert rc == 1
    assert "Error from server (Forbidden)" in err
    rc, _, err = await kubectl(viewer_kc, "exec", "web-1", "--", "echo", "hi", cache=cache, check=False)
    assert rc != 0
    _, out, _ = await kubectl(admin_kc, "get", "pods", "-o", "name", cache=cache)
    assert out.split() == ["pod/web-1"]

    _, out, _ = await kubectl(admin_kc, "delete", "pod", "web-1", cache=cache)
    assert 'pod "web-1" deleted' in out

    # No token: 401; an unknown cluster: 404 (kubectl prints both from the Status objects).
    admin_text = await asyncio.to_thread(pathlib.Path(admin_kc).read_text)
    nobody_kc = tmp_path / "nobody.kubeconfig"
    nobody_kc.write_text(admin_text.replace(gw.admin, "not-a-token"))
    rc, _, err = await kubectl(str(nobody_kc), "get", "pods", cache=cache, check=False)
    assert rc == 1
    assert "You must be logged in to the server" in err
    status, body = await gw.call("GET", f"/clusters/{CID}/api/v1/pods", token="")
    assert (status, body["kind"], body["code"]) == (401, "Status", 401)
    lost_kc = tmp_path / "lost.kubeconfig"
    lost_kc.write_text(admin_text.replace(f"/clusters/{CID}", "/clusters/BCS-K8S-49999"))
    rc, _, err = await kubectl(
        str(lost_kc), "get", "pods", "--request-timeout=5s", cache=tmp_path / "c2", check=False
    )
    assert rc == 1
    assert "NotFound" in err or "not found" in err

    # The apiserver stops: 502 at first, then 503 at once (the probe marks the cluster down).
    sim.stop()

    async def unavailable() -> Any:
        status, body = await gw.call("GET", f"/clusters/{CID}/api/v1/pods")
        assert status in (502, 503), body
        return body if status == 503 else None

    body = await services.eventually(unavailable, timeout=10, what="503 after the apiserver stopped")
    assert (body["kind"], body["reason"]) == ("Status", "ServiceUnavailable")
    assert CID in body["message"]
    rc, _, err = await kubectl(admin_kc, "get", "pods", "--request-timeout=5s", cache=cache, check=False)
    assert rc == 1
    assert "ServiceUnavailable" in err or "unavailable" in err
