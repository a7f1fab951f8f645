"""The kube agent: reports how to reach this cluster's apiserver to the gateway, every period.

As upstream's bcs-kube-agent in direct mode (spec/bkbcs.md §1.6): the apiserver addresses are the
``https`` port of the ``default/kubernetes`` Endpoints on every endpoint address and every
control-plane (or master) node's InternalIP that answers a TCP connect (3 tries, 500 ms), sorted and
joined by commas; with none answering (e.g. the apiserver is published through a NAT or a load
balancer), the address the agent itself uses. ``--external-proxy-addresses`` overrides discovery.
The credential (addresses, the cluster CA, the service-account token) is PUT to the cluster manager at
``/bcsapi/v4/clustermanager/v1/clustercredential/{clusterId}`` with ``Authorization: Bearer
$USER_TOKEN``. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import pathlib
import ssl
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
import yaml

from bcs import errors

__all__ = [
    "REPORT_PATH",
    "Agent",
    "ApiserverAccess",
    "apiserver_addresses",
    "describe",
    "from_kubeconfig",
    "in_cluster",
    "report",
]

logger = logging.getLogger(__name__)

REPORT_PATH = "/bcsapi/v4/clustermanager/v1/clustercredential/{cluster_id}"
SERVICE_ACCOUNT = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount")
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
PING_TRIES = 3
PING_TIMEOUT = 0.5
RETRY_AFTER_ERROR = 30.0  # upstream sleeps 30 s after a failed report


@attrs.frozen
class ApiserverAccess:
    """How the agent reaches its own apiserver; ``token`` and ``ca_pem`` are what it reports."""

    server: str
    ca_pem: str = attrs.field(default="", repr=False)
    token: str = attrs.field(default="", repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem) if self.ca_pem else ssl.create_default_context()


def _read(path: str | pathlib.Path, base: pathlib.Path) -> str:
    p = pathlib.Path(path)
    return (p if p.is_absolute() else base / p).read_text()


def _named(items: list[dict[str, Any]], name: str, what: str, source: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return item.get(what) or {}
    raise errors.ConfigError(f"{source}: no {what} named {name!r}")


def from_kubeconfig(path: str | os.PathLike[str], *, context: str | None = None) -> ApiserverAccess:
    """Server, CA and bearer token of ``context`` (default: the current context) of a kubeconfig."""
    source = str(path)
    base = pathlib.Path(path).parent
    try:
        data = yaml.safe_load(pathlib.Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise errors.ConfigError(f"{source}: cannot read the kubeconfig: {e}") from None
    name = context or data.get("current-context") or ""
    ctx = _named(data.get("contexts", []), name, "context", source)
    cluster = _named(data.get("clusters", []), ctx.get("cluster", ""), "cluster", source)
    user = _named(data.get("users", []), ctx.get("user", ""), "user", source)
    ca = ""
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    elif cluster.get("certificate-authority"):
        ca = _read(cluster["certificate-authority"], base)
    token = user.get("token") or ""
    if not token and user.get("tokenFile"):
        token = _read(user["tokenFile"], base).strip()
    if not cluster.get("server"):
        raise errors.ConfigError(f"{source}: cluster {ctx.get('cluster')!r} has no server")
    if not token:
        raise errors.ConfigError(f"{source}: user {ctx.get('user')!r} has no bearer token")
    return ApiserverAccess(server=cluster["server"], ca_pem=ca, token=token)


def in_cluster(
    environ: Mapping[str, str] | None = None, *, root: pathlib.Path = SERVICE_ACCOUNT
) -> ApiserverAccess:
    """The pod's service account and the ``kubernetes`` service address (KUBERNETES_SERVICE_HOST/PORT)."""
    environ = os.environ if environ is None else environ
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise errors.ConfigError("not in a cluster (no KUBERNETES_SERVICE_HOST): pass --kubeconfig")
    try:
        token = (root / "token").read_text().strip()
        ca = (root / "ca.crt").read_text()
    except OSError as e:
        raise errors.ConfigError(f"cannot read the service account in {root}: {e.strerror}") from None
    shown = f"[{host}]" if ":" in host else host
    return ApiserverAccess(server=f"https://{shown}:{port}", ca_pem=ca, token=token)


async def _answers(ip: str, port: int) -> bool:
    for _ in range(PING_TRIES):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), PING_TIMEOUT)
        except (OSError, TimeoutError):
            continue
        writer.close()
        return True
    return False


async def _get(session: aiohttp.ClientSession, access: ApiserverAccess, path: str) -> dict[str, Any]:
    url = access.server.rstrip("/") + path
    headers = {"Authorization": f"Bearer {access.token}", "Accept": "application/json"}
    async with session.get(url, headers=headers) as r:
        if r.status >= 400:
            raise errors.BackendUnavailable(f"apiserver {access.server}: GET {path} answered {r.status}")
        return await r.json()


async def apiserver_addresses(session: aiohttp.ClientSession, access: ApiserverAccess) -> list[str]:
    """The ``https://ip:port`` addresses to report (see the module docstring)."""
    endpoints = await _get(session, access, "/api/v1/namespaces/default/endpoints/kubernetes")
    port, ips = 0, set()
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or []
        https = next((p for p in ports if p.get("name") == "https"), ports[0] if ports else None)
        if https:
            port = int(https.get("port") or 0)
        ips |= {a["ip"] for a in subset.get("addresses") or [] if a.get("ip")}
    for label in CONTROL_PLANE_LABELS:
        nodes = await _get(session, access, f"/api/v1/nodes?labelSelector={label}")
        for node in nodes.get("items") or []:
            for addr in (node.get("status") or {}).get("addresses") or []:
                if addr.get("type") == "InternalIP" and addr.get("address"):
                    ips.add(addr["address"])
    if port:
        alive = await asyncio.gather(*(_answers(ip, port) for ip in sorted(ips)))
        found = [f"https://{_bracket(ip)}:{port}" for ip, ok in zip(sorted(ips), alive, strict=True) if ok]
        if found:
            return found
    return [access.server.rstrip("/")]


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


async def report(
    session: aiohttp.ClientSession,
    *,
    gateway: str,
    cluster_id: str,
    user_token: str,
    addresses: list[str],
    access: ApiserverAccess,
) -> None:
    """PUT the credential; raise a BcsError carrying the gateway's message when it is refused."""
    body = {
        "serverKey": cluster_id,
        "clusterID": cluster_id,
        "clientModule": "kubeagent",
        "serverAddress": ",".join(addresses),
        "caCertData": access.ca_pem,
        "userToken": access.token,
        "connectMode": "direct",
    }
    url = gateway.rstrip("/") + REPORT_PATH.format(cluster_id=cluster_id)
    async with session.put(url, json=body, headers={"Authorization": f"Bearer {user_token}"}) as r:
        try:
            answer = await r.json(content_type=None)
        except (ValueError, aiohttp.ContentTypeError):
            answer = {}
        if r.status >= 400 or answer.get("code", 0) != 0:
            message = answer.get("message") if isinstance(answer, dict) else None
            raise errors.BackendUnavailable(
                f"the gateway refused the credential ({r.status}): {message or r.reason}"
            )


@attrs.define
class Agent:
    """The report loop; :meth:`run_once` for one report, :meth:`run` to repeat every ``period``."""

    gateway: str
    cluster_id: str
    user_token: str = attrs.field(repr=False)
    access: ApiserverAccess
    gateway_ssl: ssl.SSLContext | bool = True
    period: float = 60.0
    external_addresses: tuple[str, ...] = ()
    reports: int = 0
    last_success: float | None = None

    async def run_once(self) -> list[str]:
        """Compute the addresses and report them once; return what was reported."""
        timeout = aiohttp.ClientTimeout(total=30, connect=10)
        api = aiohttp.TCPConnector(ssl=self.access.ssl_context())
        gw = aiohttp.TCPConnector(ssl=self.gateway_ssl)
        async with (
            aiohttp.ClientSession(connector=api, timeout=timeout) as api_session,
            aiohttp.ClientSession(connector=gw, timeout=timeout) as gw_session,
        ):
            if self.external_addresses:
                addresses = list(self.external_addresses)
            else:
                addresses = await apiserver_addresses(api_session, self.access)
            await report(
                gw_session,
                gateway=self.gateway,
                cluster_id=self.cluster_id,
                user_token=self.user_token,
                addresses=addresses,
                access=self.access,
            )
        self.reports += 1
        self.last_success = time.monotonic()
        return addresses

    async def run(self, stop: asyncio.Event) -> None:
        """Report every ``period`` until ``stop`` is set; after a failure retry sooner."""
        while not stop.is_set():
            try:
                addresses = await self.run_once()
            except (errors.BcsError, aiohttp.ClientError, TimeoutError, OSError) as e:
                logger.warning("cluster %s: report failed: %s", self.cluster_id, describe(e))
                wait = min(RETRY_AFTER_ERROR, self.period)
            else:
                logger.info("cluster %s: reported %s", self.cluster_id, ",".join(addresses))
                wait = self.period
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)


def describe(e: BaseException) -> str:
    return e.message if isinstance(e, errors.BcsError) else f"{type(e).__name__}: {e}"
