"""Per-cluster upstreams of the reverse proxy: apiserver addresses, TLS, token, connection pool, health.

:class:`Upstreams` keeps one :class:`Upstream` per Kubernetes cluster that has a direct credential. It
lists the registry at start and follows its watch, so a request is one dictionary lookup; a cluster the
watch has not delivered yet is read from the registry on demand (a newly registered cluster is routable
as soon as its credential is written). The agent re-reports an unchanged credential every period: only
a change of address, CA, token or impersonation replaces an upstream (and its pool).

Health: an address that refuses a connection or fails a probe is tried last from then on; an address
that has failed for ``unavailable_after`` seconds with no success in between is *down*, and a cluster
whose addresses are all down is answered 503 at once (:meth:`Upstream.check_available`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import ssl
import time
from typing import TYPE_CHECKING

import aiohttp
import attrs
import yarl

from bcs import errors
from bcs.core import kv, registry

if TYPE_CHECKING:
    from bcs.config import GatewaySettings

__all__ = ["IMPERSONATE_LABEL", "Address", "Upstream", "Upstreams", "cluster_ssl_context", "impersonates"]

logger = logging.getLogger(__name__)

# A cluster labelled so gets ``Impersonate-User: <bcs user>`` on every proxied request; its credential's
# token must then be allowed to impersonate (RBAC verb ``impersonate`` on users).
IMPERSONATE_LABEL = "gateway.bkbcs.tencent.com/impersonate"
PROBE_PATH = "/readyz"
PROBE_CONCURRENCY = 32


@attrs.define
class Address:
    """One apiserver address of a cluster and what the gateway has seen of it."""

    url: yarl.URL
    failing_since: float | None = None  # monotonic time of the first failure since the last success
    base: str = attrs.field(init=False)  # the URL as text without a trailing slash: path + query follow

    def __attrs_post_init__(self) -> None:
        self.base = str(self.url).rstrip("/")

    def succeeded(self) -> None:
        self.failing_since = None

    def failed(self, now: float) -> None:
        if self.failing_since is None:
            self.failing_since = now

    def down(self, now: float, unavailable_after: float) -> bool:
        return self.failing_since is not None and now - self.failing_since >= unavailable_after


def _ca_pem(data: str) -> str:
    """The CA as PEM; the tunnel path of upstream reports it base64-encoded, the direct path as PEM."""
    if not data or "-----BEGIN" in data:
        return data
    try:
        return base64.b64decode(data, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return data


def cluster_ssl_context(ca_cert_data: str) -> ssl.SSLContext:
    """Verify the apiserver against the cluster's own CA (the system store when none is registered)."""
    pem = _ca_pem(ca_cert_data)
    try:
        return ssl.create_default_context(cadata=pem) if pem else ssl.create_default_context()
    except (ssl.SSLError, ValueError) as e:
        raise errors.BadRequest(
            f"the registered CA of this cluster is not a valid PEM certificate: {e}"
        ) from None


def impersonates(cluster: registry.Cluster | None) -> bool:
    """Whether requests to ``cluster`` carry ``Impersonate-User`` (its label :data:`IMPERSONATE_LABEL`)."""
    return cluster is not None and cluster.labels.get(IMPERSONATE_LABEL, "").lower() == "true"


def _fingerprint(credential: registry.Credential, cluster: registry.Cluster | None) -> tuple[object, ...]:
    return (credential.serverAddress, credential.caCertData, credential.userToken, impersonates(cluster))


class Upstream:
    """The way into one cluster: its addresses, TLS context, bearer token and connection pool."""

    def __init__(
        self,
        credential: registry.Credential,
        cluster: registry.Cluster | None,
        *,
        settings: GatewaySettings,
    ) -> None:
        self.cluster_id = credential.clusterID
        self.fingerprint = _fingerprint(credential, cluster)
        self.token = credential.userToken
        self.impersonate = impersonates(cluster)
        self.addresses = [Address(yarl.URL(_with_scheme(a))) for a in credential.addresses]
        self._settings = settings
        self._ssl = cluster_ssl_context(credential.caCertData)
        self._session: aiohttp.ClientSession | None = None
        self.in_flight = 0
        self.retired = False

    @property
    def session(self) -> aiohttp.ClientSession:
        """The cluster's pool, made on first use (inside the running loop)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                ssl=self._ssl, limit=self._settings.pool_size, limit_per_host=0, ttl_dns_cache=60
            )
            # Bodies pass through as the apiserver encoded them (kubectl asks for gzip itself).
            connect = self._settings.connect_timeout
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
                timeout=aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect),
            )
        return self._session

    def candidates(self) -> list[Address]:
        """Addresses in the order to try: those without recent failures first, each group stable."""
        return sorted(self.addresses, key=lambda a: a.failing_since is not None)

    def check_available(self, now: float | None = None) -> None:
        """Raise ClusterUnavailable when every address has been failing for ``unavailable_after``."""
        now = time.monotonic() if now is None else now
        after = self._settings.unavailable_after
        if not self.addresses:
            raise errors.ClusterUnavailable(f"cluster {self.cluster_id} has no apiserver address registered")
        if all(a.down(now, after) for a in self.addresses):
            raise errors.ClusterUnavailable(
                f"cluster {self.cluster_id} is unavailable: its apiserver has not answered for {after:g}s"
            )

    async def probe(self) -> None:
        """One health probe of every address (any HTTP answer below 500 counts as alive)."""
        timeout = aiohttp.ClientTimeout(total=self._settings.probe_timeout)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for address in list(self.addresses):
            try:
                async with self.session.get(
                    address.url / PROBE_PATH.lstrip("/"), headers=headers, timeout=timeout
                ) as r:
                    alive = r.status < 500
            except (aiohttp.ClientError, TimeoutError, OSError):
                alive = False
            if alive:
                address.succeeded()
            else:
                address.failed(time.monotonic())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:  # the token stays out
        return f"<Upstream {self.cluster_id} {[str(a.url) for a in self.addresses]}>"


def _with_scheme(address: str) -> str:
    return address if "://" in address else f"https://{address}"


class Upstreams:
    """Every cluster's :class:`Upstream`, kept in step with the registry; see the module docstring."""

    def __init__(self, clusters: registry.ClusterRegistry, *, settings: GatewaySettings) -> None:
        self._registry = clusters
        self._settings = settings
        self._by_cluster: dict[str, Upstream] = {}
        self._clusters: dict[str, registry.Cluster] = {}
        self._retired: set[Upstream] = set()
        self._loading: dict[str, asyncio.Future[Upstream]] = {}
        self.revision = 0  # the registry revision applied last (lets callers wait for a change)

    # -- lookups ---------------------------------------------------------------------------------

    async def get(self, cluster_id: str) -> Upstream:
        """The upstream of ``cluster_id``; ClusterNotFound, or ClusterUnavailable without a credential."""
        found = self._by_cluster.get(cluster_id)
        if found is not None:
            return found
        pending = self._loading.get(cluster_id)
        if pending is None:  # one registry read per cluster however many requests wait for it
            pending = asyncio.ensure_future(self._load(cluster_id))
            self._loading[cluster_id] = pending
            pending.add_done_callback(lambda f: self._loaded(cluster_id, f))
        return await asyncio.shield(pending)

    def _loaded(self, cluster_id: str, future: asyncio.Future[Upstream]) -> None:
        self._loading.pop(cluster_id, None)
        if not future.cancelled():
            future.exception()  # retrieved here too: every waiter may have gone away

    async def _load(self, cluster_id: str) -> Upstream:
        cluster = await self._registry.get_cluster(cluster_id)
        if cluster.engineType != "k8s":
            raise errors.BadRequest(f"cluster {cluster_id} is a {cluster.engineType} cluster, not Kubernetes")
        credential = await self._direct_credential(cluster_id)
        if credential is None:
            raise errors.ClusterUnavailable(
                f"cluster {cluster_id} has no credential yet: is its kube agent running?"
            )
        self._clusters[cluster_id] = cluster
        return self._install(credential)

    async def _direct_credential(self, cluster_id: str) -> registry.Credential | None:
        with contextlib.suppress(errors.NotFound):
            credential = await self._registry.get_credential(cluster_id)
            if credential.connectMode == "direct":
                return credential
        found = await self._registry.list_credentials({"clusterID": cluster_id, "connectMode": "direct"})
        return found[0] if found else None

    def known(self) -> list[Upstream]:
        return list(self._by_cluster.values())

    # -- keeping in step -------------------------------------------------------------------------

    def _install(self, credential: registry.Credential) -> Upstream:
        """Use ``credential`` for its cluster unless the current upstream already matches it."""
        cid = credential.clusterID
        current = self._by_cluster.get(cid)
        wanted = _fingerprint(credential, self._clusters.get(cid))
        if current is not None and current.fingerprint == wanted:
            return current
        upstream = Upstream(credential, self._clusters.get(cid), settings=self._settings)
        if current is not None:
            # Keep what the probes learnt about addresses that stay.
            seen = {a.url: a.failing_since for a in current.addresses}
            for a in upstream.addresses:
                a.failing_since = seen.get(a.url)
        self._by_cluster[cid] = upstream
        self._retire(current)
        logger.info("cluster %s routable via %s", cid, ", ".join(str(a.url) for a in upstream.addresses))
        return upstream

    def _drop(self, cluster_id: str) -> None:
        self._retire(self._by_cluster.pop(cluster_id, None))

    def _retire(self, upstream: Upstream | None) -> None:
        """Close an old pool once its in-flight requests (a watch may last hours) have finished."""
        if upstream is None:
            return
        upstream.retired = True
        self._retired.add(upstream)

    async def reap(self) -> None:
        """Close retired pools that nothing uses any more."""
        for upstream in [u for u in self._retired if u.in_flight == 0]:
            self._retired.discard(upstream)
            await upstream.close()

    async def resync(self) -> int:
        """Load every cluster and direct credential; return the revision to watch from."""
        revision = await self._registry.revision()
        clusters = {c.clusterID: c for c in await self._registry.list_clusters() if c.engineType == "k8s"}
        self._clusters = clusters
        credentials = [
            c
            for c in await self._registry.list_credentials({"connectMode": "direct"})
            if c.clusterID in clusters
        ]
        for credential in credentials:
            with contextlib.suppress(errors.BcsError):
                self._install(credential)
        have = {c.clusterID for c in credentials}
        for cid in [c for c in self._by_cluster if c not in have]:
            self._drop(cid)
        return revision + 1

    def apply(self, event: registry.RegistryEvent) -> None:
        """One registry change."""
        if event.kind == "cluster":
            if event.type == "delete" or (event.cluster is not None and event.cluster.engineType != "k8s"):
                self._clusters.pop(event.id, None)
                self._drop(event.id)
                return
            assert event.cluster is not None
            self._clusters[event.id] = event.cluster
            current = self._by_cluster.get(event.id)
            if current is not None:
                current.impersonate = impersonates(event.cluster)
                current.fingerprint = (*current.fingerprint[:3], current.impersonate)
            return
        credential = event.credential
        if event.type == "delete":
            for cid, upstream in list(self._by_cluster.items()):
                if cid == event.id or upstream.cluster_id == event.id:
                    self._drop(cid)
            return
        if credential is None or credential.connectMode != "direct":
            return
        if credential.clusterID in self._clusters or credential.clusterID in self._by_cluster:
            try:
                self._install(credential)
            except errors.BcsError as e:
                logger.warning("cluster %s: credential not usable: %s", credential.clusterID, e.message)

    async def follow(self) -> None:
        """Forever: list, then apply the registry's watch; re-list when history was compacted."""
        delay = 0.5
        while True:
            try:
                start = await self.resync()
                self.revision = start - 1
                delay = 0.5
                async for event in self._registry.watch(start_revision=start):
                    self.apply(event)
                    self.revision = event.revision
            except kv.RevisionCompacted:
                continue
            except errors.PortUnavailable as e:
                logger.warning("registry watch: %s; retrying in %.1fs", e.message, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def probe_forever(self) -> None:
        """Probe every known cluster's apiservers each ``probe_interval``; reap retired pools."""
        limit = asyncio.Semaphore(PROBE_CONCURRENCY)

        async def one(upstream: Upstream) -> None:
            async with limit:
                await upstream.probe()

        while True:
            await asyncio.gather(*(one(u) for u in self.known()))
            await self.reap()
            await asyncio.sleep(self._settings.probe_interval)

    async def close(self) -> None:
        for upstream in [*self._by_cluster.values(), *self._retired]:
            await upstream.close()
        self._by_cluster.clear()
        self._retired.clear()
