"""Per-cluster work in ``bcs serve``: follow the cluster registry, own clusters, run their work.

:class:`Manager` keeps, for every Kubernetes cluster this process owns (:mod:`.ownership`), one
task running ``run_cluster(cluster_id, credential)`` — in ``bcs serve`` the data watch and the
configured operators (:func:`cluster_work`). It reconciles on every registry or ownership change
(KV watches) and every third of the lease TTL: clusters gained are started, clusters lost, removed
or whose credential changed are stopped (and restarted with the new credential), and a task that
failed is started again. The lease is refreshed by a task of its own, which also stops everything
the moment ownership can no longer be trusted (the lease was not refreshed in time), before another
process may take the clusters over.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from bcs import errors
from bcs.core import kv as kv_mod
from bcs.core import metrics as core_metrics
from bcs.core import registry as registry_mod
from bcs.plugins.k8s.datawatch import cluster, ownership, sink
from bcs.plugins.k8s.datawatch import metrics as metrics_mod
from bcs.plugins.k8s.datawatch import settings as settings_mod
from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import cli as operators_cli

__all__ = ["ClusterRunner", "Manager", "cluster_work", "connect"]

logger = logging.getLogger(__name__)

ClusterRunner = Callable[[str, registry_mod.Credential], Coroutine[Any, Any, Any]]
FOLLOW_RETRY = 1.0  # seconds before a failed registry/KV watch is opened again
RESTART_MAX = 60.0  # seconds between restarts of a cluster's work that keeps failing


def _ca_pem(data: str) -> bytes | None:
    """The cluster CA as PEM; agents' tunnel path reports it base64-encoded, static configs as PEM."""
    if not data:
        return None
    if "-----BEGIN" in data:
        return data.encode()
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return data.encode()


async def connect(credential: registry_mod.Credential) -> client.KubeClient:
    """A client on the cluster's apiserver (the first registered address)."""
    if not credential.addresses:
        raise errors.ConfigError(f"cluster {credential.clusterID}: its credential has no server address")
    return await client.connect(
        server=credential.addresses[0],
        ca_pem=_ca_pem(credential.caCertData),
        token=credential.userToken or None,
    )


def cluster_work(
    *,
    target: sink.Sink | None,
    settings: settings_mod.DataWatchSettings,
    metrics: metrics_mod.Metrics,
    operators: Sequence[str] = (),
    identity: str = "",
    operator_metrics: core_metrics.JoinedRegistries | None = None,
) -> ClusterRunner:
    """What ``bcs serve`` runs per owned cluster: the data watch (when ``target`` is given) and the
    ``operators``, on one client, until cancelled."""

    async def run(cluster_id: str, credential: registry_mod.Credential) -> None:
        async with await connect(credential) as kube, asyncio.TaskGroup() as group:
            if target is not None:
                watch = cluster.DataWatch(
                    kube, target, cluster_id=cluster_id, settings=settings, metrics=metrics
                )
                group.create_task(watch.run(), name=f"datawatch {cluster_id}")
            if operators:
                group.create_task(
                    operators_cli.run_operators(
                        kube,
                        operators=operators,
                        identity=identity or None,
                        metrics=operator_metrics,
                        metrics_label=cluster_id,
                    ),
                    name=f"operators {cluster_id}",
                )

    return run


def _credential_for(
    cluster_id: str, found: Sequence[registry_mod.Credential]
) -> registry_mod.Credential | None:
    mine = [c for c in found if c.clusterID == cluster_id]
    for credential in mine:
        if credential.serverKey == cluster_id:
            return credential
    return mine[0] if mine else None


def _fingerprint(credential: registry_mod.Credential) -> tuple[str, str, str]:
    return credential.serverAddress, credential.caCertData, credential.userToken


class Manager:
    """Runs ``run_cluster`` for each Kubernetes cluster this process owns; :meth:`run` until cancelled."""

    def __init__(
        self,
        *,
        kv: kv_mod.KV,
        clusters: registry_mod.ClusterRegistry,
        prefix: str,
        identity: str,
        ttl: int,
        run_cluster: ClusterRunner,
        metrics: metrics_mod.Metrics | None = None,
        restart_delay: float = 2.0,
    ) -> None:
        self.kv = kv
        self.clusters = clusters
        self.identity = identity
        self.ownership = ownership.Ownership(kv, prefix=prefix, identity=identity, ttl=ttl)
        self.run_cluster = run_cluster
        self.metrics = metrics
        self.tick = max(ttl / 3, 0.2)  # seconds between reconciles when nothing wakes us
        self.renew = max(ttl / 5, 0.1)  # seconds between lease refreshes
        self.restart_delay = restart_delay
        self.running: dict[str, tuple[tuple[str, str, str], asyncio.Task[Any]]] = {}
        self._prefix = f"{prefix}datawatch/"
        self._wake = asyncio.Event()
        self._stopping: set[asyncio.Task[Any]] = set()  # cancelled, not yet finished
        self._waiting: set[str] = set()  # owned clusters without a usable credential (logged once)
        self._failures: dict[str, int] = {}  # cluster -> quick failures in a row

    async def run(self) -> None:
        followers = [
            asyncio.create_task(self._follow(self.clusters.watch), name="datawatch follow registry"),
            asyncio.create_task(
                self._follow(lambda: self.kv.watch_prefix(self._prefix)), name="datawatch follow owners"
            ),
            asyncio.create_task(self._keepalive(), name="datawatch ownership keepalive"),
        ]
        try:
            while True:
                self._wake.clear()  # before reconciling: a change seen meanwhile wakes us again
                await self._reconcile()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.tick):
                        await self._wake.wait()
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
            await self._stop(list(self.running))
            if self._stopping:  # a stop that was itself interrupted by our cancellation
                await asyncio.wait(self._stopping)
            with contextlib.suppress(errors.BcsError):
                await asyncio.shield(self.ownership.release())

    async def _follow(self, source: Callable[[], AsyncIterator[Any]]) -> None:
        while True:
            try:
                events = source()
                async with contextlib.aclosing(events):  # type: ignore[type-var]
                    async for _ in events:
                        self._wake.set()
            except (errors.BcsError, kv_mod.RevisionCompacted) as e:
                logger.debug("datawatch: a watch failed (%s); reopening", e)
            await asyncio.sleep(FOLLOW_RETRY * (1 + random.random()))

    async def _keepalive(self) -> None:
        """Refresh the lease on its own schedule (never behind a slow reconcile), and stop every
        cluster's work the moment ownership can no longer be trusted."""
        while True:
            try:
                lease = self.ownership.lease
                await self.ownership.keepalive()
                if self.ownership.lease != lease:
                    self._wake.set()  # a new lease: take clusters again
            except errors.BcsError as e:
                logger.warning("%s: ownership lease not refreshed (%s)", self.identity, e)
            if self.running and not self.ownership.valid:
                logger.warning(
                    "%s: ownership lease not refreshed in time; stopping cluster work", self.identity
                )
                await self._stop(list(self.running))
            await asyncio.sleep(self.renew)

    async def _reconcile(self) -> None:
        try:
            k8s = [c.clusterID for c in await self.clusters.list_clusters({"engineType": "k8s"})]
            owned = await self.ownership.balance(k8s)
            credentials = await self.clusters.list_credentials({"connectMode": "direct"})
        except errors.BcsError as e:
            logger.warning("%s: cluster ownership not updated (%s)", self.identity, e)
            if not self.ownership.valid:
                await self._stop(list(self.running))
            return
        await self._stop([cid for cid in self.running if cid not in owned])
        for cid in sorted(owned):
            self._ensure(cid, _credential_for(cid, credentials))
        if self.metrics is not None:
            self.metrics.owned.set(len(self.running))

    def _ensure(self, cluster_id: str, credential: registry_mod.Credential | None) -> None:
        current = self.running.get(cluster_id)
        if credential is None:
            if cluster_id not in self._waiting:
                self._waiting.add(cluster_id)
                logger.warning("cluster %s has no direct credential yet; its watch waits for one", cluster_id)
            return
        self._waiting.discard(cluster_id)
        fingerprint = _fingerprint(credential)
        if current is not None and current[0] == fingerprint and not current[1].done():
            return
        if current is not None and not current[1].done():
            current[1].cancel()  # the credential changed: start again with the new one
        task = asyncio.create_task(self._guard(cluster_id, credential), name=f"cluster {cluster_id}")
        self.running[cluster_id] = (fingerprint, task)

    async def _guard(self, cluster_id: str, credential: registry_mod.Credential) -> None:
        started = time.monotonic()
        try:
            await self.run_cluster(cluster_id, credential)
            logger.error("cluster %s: its work ended on its own", cluster_id)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            quiet = isinstance(e, errors.BcsError)
            logger.error("cluster %s: its work failed: %r", cluster_id, e, exc_info=not quiet)
        # The next reconcile starts it again (it sees the task done), after a pause that grows while
        # the work keeps failing fast (a credential that cannot work, say).
        quick = time.monotonic() - started < RESTART_MAX
        failures = self._failures.get(cluster_id, 0) + 1 if quick else 1
        self._failures[cluster_id] = failures
        await asyncio.sleep(min(self.restart_delay * 2 ** (failures - 1), RESTART_MAX))
        self._wake.set()

    async def _stop(self, cluster_ids: Sequence[str]) -> None:
        """Cancel the clusters' work and wait for it to end.

        Waiting is ``asyncio.wait``, never ``await task`` under a suppress: that would also swallow
        the cancellation of the caller (the manager being stopped while it stops a cluster), which
        then ran on past its stop budget. Tasks still ending when that happens stay in
        ``_stopping`` for :meth:`run` to wait for."""
        stopping = [self.running.pop(cid)[1] for cid in cluster_ids if cid in self.running]
        if not stopping:
            return
        for task in stopping:
            task.cancel()
        self._stopping.update(stopping)
        await asyncio.wait(stopping)
        self._stopping.difference_update(stopping)
        if self.metrics is not None:
            self.metrics.owned.set(len(self.running))
