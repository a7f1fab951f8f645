"""``bcs demo``: the whole product on one machine, with nothing installed.

It starts ``bcs serve`` on the embedded defaults (HTTPS with a generated CA), ``bcs sim kube`` with two
simulated clusters, registers each cluster in the cluster manager and runs one ``bcs agent kube`` per
cluster with that cluster's register token (the real registration path), turns on the Kubernetes
data watch and the operators, writes a kubeconfig per cluster through the gateway, and prints how to
reach everything. Ctrl-C stops every process it started, in reverse order.

Everything lives in ``--data-dir`` (default ``.bcs-demo``); running it again reuses the data (the
clusters keep their ids, the admin token its value).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import re
import signal
import ssl
import sys
from collections.abc import Callable
from typing import Any

import aiohttp
import attrs

__all__ = ["configure_parser", "run"]

CM = "/bcsapi/v4/clustermanager/v1"
UM = "/bcsapi/v4/usermanager"
SERVING = re.compile(r"serving on (https?://\S+) \(config: [^;)]*(?:; gateway CA: ([^)\s]+))?\)")
OPERATORS = '["gamedeployment", "gamestatefulset", "hook"]'
START_TIMEOUT = 60.0


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Start bcs serve, simulated Kubernetes clusters registered through the kube agent, and print how "
        "to reach them with kubectl and the storage API."
    )
    parser.add_argument(
        "--data-dir", default=".bcs-demo", help="where everything is kept (default .bcs-demo)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="gateway address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8443, help="gateway port (default 8443; 0 = any free)")
    parser.add_argument("--clusters", type=int, default=2, help="simulated clusters (default 2)")
    parser.add_argument("--nodes", type=int, default=3, help="nodes per simulated cluster (default 3)")
    parser.add_argument("--no-operators", action="store_true", help="do not turn the k8s operators on")


@attrs.define
class Child:
    """A ``bcs`` sub-process whose output is echoed with a prefix and kept for parsing."""

    name: str
    process: asyncio.subprocess.Process
    lines: list[str] = attrs.field(factory=list)
    pump: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, name: str, *args: str, env: dict[str, str], quiet: bool = True) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bcs",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops the children in order
        )
        child = cls(name, process)
        child.pump = asyncio.create_task(child._pump(quiet), name=f"demo:{name}")
        return child

    async def _pump(self, quiet: bool) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if not quiet or " ERROR " in line or "Traceback" in line:
                print(f"[{self.name}] {line}", file=sys.stderr, flush=True)

    async def wait_for(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """The first output line matching ``pattern``; fails if the process exits first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        seen = 0
        while loop.time() < deadline:
            for line in self.lines[seen:]:
                found = pattern.search(line)
                if found:
                    return found
            seen = len(self.lines)
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        tail = "\n".join(self.lines[-20:])
        raise RuntimeError(f"{self.name} did not start (exit {self.process.returncode}):\n{tail}")

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.pump


@attrs.define
class Api:
    """Calls to the gateway as the admin."""

    url: str
    token: str = attrs.field(repr=False)
    ssl: ssl.SSLContext | bool
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        async with self.session.request(method, self.url + path, headers=headers, ssl=self.ssl, **kw) as r:
            body = await r.json(content_type=None)
            if r.status >= 400:
                raise RuntimeError(f"{method} {path}: {r.status} {body.get('message', body)}")
            return body

    async def cluster_for(self, name: str) -> str:
        """The id of the demo cluster named ``name``, registering it on first use."""
        found = (await self.call("GET", f"{CM}/cluster", params={"clusterName": name}))["data"] or []
        if found:
            return found[0]["clusterID"]
        body = {"clusterName": name, "engineType": "k8s", "environment": "prod", "provider": "bcs-sim"}
        return (await self.call("POST", f"{CM}/cluster", json=body))["data"]["clusterID"]


def _env(data: pathlib.Path, args: argparse.Namespace, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BCS_", "USER_TOKEN"))}
    env.update(
        BCS_SERVER__DATA_DIR=str(data / "server"),
        BCS_SERVER__HOST=args.host,
        BCS_SERVER__PORT=str(args.port),
        BCS_PLUGINS__K8S__WATCH="true",
        **extra,
    )
    if not args.no_operators:
        env["BCS_PLUGINS__K8S__OPERATORS"] = OPERATORS
    return env


async def _until(check: Callable[[], Any], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while True:
        with contextlib.suppress(aiohttp.ClientError, RuntimeError):
            if await check():
                return
        if loop.time() > deadline:
            raise RuntimeError(f"{what} did not happen within {START_TIMEOUT:g}s")
        await asyncio.sleep(0.1)


def _write_private(path: pathlib.Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


async def _write_kubeconfig(api: Api, cluster_id: str, path: pathlib.Path) -> None:
    """The admin's kubeconfig of the cluster, as the gateway's kubeconfig route makes it."""
    body = await api.call("GET", f"{CM}/clusters/{cluster_id}/kubeconfig")
    await asyncio.to_thread(_write_private, path, body["data"]["kubeconfig"])


async def demo(args: argparse.Namespace, stop: asyncio.Event, *, data: pathlib.Path) -> int:
    """Start everything, print the banner, wait for ``stop`` (or a child's exit), stop everything."""
    children: list[Child] = []
    try:
        server = await Child.start("serve", "serve", env=_env(data, args))
        children.append(server)
        serving = await server.wait_for(SERVING)
        url, ca_file = serving.group(1), serving.group(2)
        sims = await Child.start(
            "sim",
            *("sim", "kube", "--clusters", str(args.clusters), "--nodes", str(args.nodes)),
            *("--kubeconfig-out", str(data / "sim")),
            env=_env(data, args),
        )
        children.append(sims)
        found = [
            await sims.wait_for(re.compile(rf"cluster (sim-{i}): (\S+) kubeconfig=(\S+)"))
            for i in range(args.clusters)
        ]
        token = (await asyncio.to_thread((data / "server" / "admin-token").read_text)).strip()
        trust: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        async with aiohttp.ClientSession() as session:
            api = Api(url=url, token=token, ssl=trust, session=session)
            clusters = await _register(api, found, children, data=data, args=args, ca_file=ca_file)
        _banner(url=url, ca_file=ca_file, data=data, clusters=clusters)
        watched = [asyncio.create_task(c.process.wait(), name=f"demo-wait:{c.name}") for c in children]
        stopping = asyncio.create_task(stop.wait(), name="demo-stop")
        done, _ = await asyncio.wait([stopping, *watched], return_when=asyncio.FIRST_COMPLETED)
        for task in [stopping, *watched]:
            task.cancel()
        await asyncio.gather(stopping, *watched, return_exceptions=True)
        if stopping not in done:
            gone = next(c for c in children if c.process.returncode is not None)
            print(f"bcs demo: {gone.name} exited ({gone.process.returncode}); stopping", file=sys.stderr)
            return 1
        print("bcs demo: stopping", flush=True)
        return 0
    finally:
        for child in reversed(children):
            await child.stop()


async def _register(
    api: Api,
    found: list[re.Match[str]],
    children: list[Child],
    *,
    data: pathlib.Path,
    args: argparse.Namespace,
    ca_file: str | None,
) -> list[tuple[str, str, pathlib.Path]]:
    """Register each simulated cluster through the kube agent; (id, name, kubeconfig) of each."""
    clusters = []
    for match in found:
        name, kubeconfig = match.group(1), match.group(3)
        cluster_id = await api.cluster_for(name)
        register = (await api.call("POST", f"{UM}/v1/clusters/{cluster_id}/register_tokens"))["data"]["token"]
        trust = ["--gateway-ca", ca_file] if ca_file else []
        agent = await Child.start(
            f"agent {cluster_id}",
            *("agent", "kube", "--gateway", api.url, "--cluster-id", cluster_id, "--kubeconfig", kubeconfig),
            *trust,
            env=_env(data, args, USER_TOKEN=register),
        )
        children.append(agent)

        async def routable(cid: str = cluster_id) -> bool:
            async with api.session.get(
                f"{api.url}/clusters/{cid}/version",
                headers={"Authorization": f"Bearer {api.token}"},
                ssl=api.ssl,
            ) as r:
                return r.status == 200

        await _until(routable, f"the registration of {cluster_id}")
        path = data / f"kubeconfig-{cluster_id}.yaml"
        await _write_kubeconfig(api, cluster_id, path)
        clusters.append((cluster_id, name, path))
    return clusters


def _banner(
    *, url: str, ca_file: str | None, data: pathlib.Path, clusters: list[tuple[str, str, pathlib.Path]]
) -> None:
    token_file = data / "server" / "admin-token"
    cacert = f"--cacert {ca_file} " if ca_file else ""
    first = clusters[0][0] if clusters else "BCS-K8S-40000"
    lines = [
        "bcs demo is ready.",
        f"  gateway:      {url}" + (f"  (CA: {ca_file})" if ca_file else ""),
        f"  admin token:  {token_file}",
    ]
    for cluster_id, name, path in clusters:
        lines.append(f"  cluster {cluster_id} ({name}): kubectl --kubeconfig {path} get nodes")
    lines += [
        "  storage query (resources synced by the data watch):",
        f'    curl {cacert}-H "Authorization: Bearer $(cat {token_file})" \\',
        f"      {url}/bcsapi/v4/storage/k8s/dynamic/all_resources/clusters/{first}/Pod",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def run(args: argparse.Namespace) -> int:
    data = pathlib.Path(args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await demo(args, stop, data=data)
        except RuntimeError as e:
            print(f"bcs demo: {e}", file=sys.stderr)
            return 1

    return asyncio.run(main())
