"""One simulated cluster (``Cluster``) and its served, in-process form (``KubeSim``).

``async with KubeSim(nodes=3, seed=1, tls=True) as sim:`` gives ``sim.url``, ``sim.token``,
``sim.kubeconfig`` (a written kubeconfig file), ``sim.ca_pem`` and ``sim.cluster`` (direct access
to the store and API for tests and benchmarks).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from bcs.sim.kube import (
    api,
    fieldvalidation,
    kubeconfig,
    resources,
    server,
    status,
    store,
    structural,
    tls,
    watch,
)
from bcs.sim.kube.controllers import (
    base,
    churn,
    crds,
    daemonset,
    endpoints,
    events,
    gc,
    kubelet,
    namespaces,
    nodes,
    scheduler,
    statefulset,
    workloads,
)

__all__ = ["Cluster", "KubeSim", "crd_types"]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def crd_types(crd: dict[str, Any]) -> list[resources.ResourceType]:
    """The resource types a CRD serves, one per served version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if v.get("served") is not True:
            continue
        subs = v.get("subresources") or {}
        fields = tuple(f.get("jsonPath", "").lstrip(".") for f in v.get("selectableFields") or [])
        out.append(
            resources.ResourceType(
                spec.get("group", ""),
                v.get("name", ""),
                names.get("kind", ""),
                names.get("plural", ""),
                spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(s for s in ("status", "scale") if s in subs),
                field_paths=fields,
                crd={
                    "storage": bool(v.get("storage")),
                    "preserveUnknownFields": bool(spec.get("preserveUnknownFields")),
                    "schema": v.get("schema") or {},
                    "subresources": subs,
                    "additionalPrinterColumns": v.get("additionalPrinterColumns") or [],
                },
            )
        )
    return out


class Cluster:
    """Everything one simulated cluster holds; served over HTTP by ``server.make_app``."""

    def __init__(
        self,
        *,
        name: str = "sim",
        nodes: int = 3,
        seed: int | None = None,
        token: str = "",
        require_auth: bool = True,
        history_window: float = 300.0,
        node_heartbeat_interval: float = 10.0,
        churn: float = 0.0,
        record_events: bool = True,
        controllers: bool = True,
        pod_start_delay: float = 0.05,
        kill_delay: float = 0.05,
        log_interval: float = 1.0,
        bookmark_interval: float = 60.0,
        watch_timeout: float = 1800.0,
        ca_pem: bytes = b"",
        node_pods: str = "110",
    ) -> None:
        self.name = name
        self.nodes = nodes
        self.token = token or secrets.token_hex(16)
        self.require_auth = require_auth
        self.store = store.Store(history_window=history_window)
        self.registry = resources.Registry()
        self.api = api.Api(self.store, self.registry, seed=seed)
        self.api.on_crd = self._crd_changed
        self.hub = watch.Hub(self.store)
        self.events_enabled = record_events
        self.recorder = events.Recorder(self)
        self.with_controllers = controllers
        self.node_heartbeat_interval = node_heartbeat_interval
        self.churn_rate = churn
        self.pod_start_delay = pod_start_delay
        self.kill_delay = kill_delay
        self.log_interval = log_interval
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.ca_pem = ca_pem
        self.node_pods = node_pods
        self.address = ""
        self.closing = False
        self.kill_pending: set[tuple[str, str]] = set()
        self.manager: base.Manager | None = None
        self.churn: churn.Churn | None = None

    @staticmethod
    def now() -> str:
        return api.now_iso()

    def _crd_changed(self, crd: dict[str, Any] | None, kind: str) -> None:
        if crd is None:
            return
        name = crd["metadata"]["name"]
        old = [rt for rt in self.registry if rt.is_custom and f"{rt.plural}.{rt.group}" == name]
        if kind == "DELETED":
            self.registry.set_custom(name, [])
            for rt in old[:1]:
                self.store.drop_kind(rt)
            return
        types = crd_types(crd)
        self.registry.set_custom(name, types)
        self._redefault(old, types)

    def _redefault(self, old: list[resources.ResourceType], new: list[resources.ResourceType]) -> None:
        """Objects stored before a schema change read back pruned and defaulted by the new schema."""
        storage = next((rt for rt in new if (rt.crd or {}).get("storage")), new[0] if new else None)
        if storage is None:
            return
        before = {rt.version: (rt.crd or {}).get("schema") for rt in old}
        if before.get(storage.version) == (storage.crd or {}).get("schema"):
            return
        schema = fieldvalidation.custom_schema(storage)
        if schema is None:
            return

        fill = structural.defaulter(schema)

        def fix(obj: dict[str, Any]) -> bool:
            before = orjson.dumps(obj)
            structural.prune(obj, schema)
            structural.prune_nulls(obj, schema)
            if fill is not None:
                fill(obj)
            return orjson.dumps(obj) != before

        self.store.rewrite(storage, fix)

    def bind_pod(self, ns: str, name: str, node: str) -> None:
        """What ``pods/binding`` does: set spec.nodeName once, mark PodScheduled."""
        rt = self.registry.builtin("", "pods")
        cur = self.api.get(rt, ns, name)
        if (cur.get("spec") or {}).get("nodeName"):
            raise status.conflict(
                "pods", "", name, f'pod {name} is already assigned to node "{cur["spec"]["nodeName"]}"'
            )
        if self.store.get(self.registry.builtin("", "nodes"), "", node) is None:
            raise status.not_found("nodes", "", node)
        now = self.now()

        def bind(p: dict[str, Any]) -> None:
            p["spec"]["nodeName"] = node
            st = p.setdefault("status", {})
            conds = [c for c in st.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append(
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
            )
            st["conditions"] = conds

        pod = self.api.mutate(rt, ns, name, bind, sub="all")
        if pod is not None:
            self.recorder.record(
                pod,
                rt,
                "Scheduled",
                f"Successfully assigned {ns}/{name} to {node}",
                component="default-scheduler",
            )

    def _bootstrap(self) -> None:
        ns_rt = self.registry.builtin("", "namespaces")
        for ns in SYSTEM_NAMESPACES:
            self.api.create(ns_rt, None, {"metadata": {"name": ns}})
        node_rt = self.registry.builtin("", "nodes")
        now = self.now()
        for i in range(self.nodes):
            node = nodes.node_object(f"node-{i}", i, pods=self.node_pods)
            node["status"]["conditions"] = nodes.conditions(now, now)
            self.api.create(node_rt, None, node)  # nodes keep the status they register with
        svc_rt = self.registry.builtin("", "services")
        self.api.create(
            svc_rt,
            "default",
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": "10.96.0.1",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                },
            },
        )
        ep_rt = self.registry.builtin("", "endpoints")
        self.api.create(
            ep_rt,
            "default",
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                },
                "subsets": [
                    {
                        "addresses": [{"ip": "127.0.0.1"}],
                        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
                    }
                ],
            },
        )

    def _controllers(self) -> list[base.Controller]:
        out: list[base.Controller] = [
            namespaces.NamespaceController(self),
            crds.CrdController(self),
            gc.GarbageCollector(self),
        ]
        if self.with_controllers:
            out += [
                scheduler.Scheduler(self),
                kubelet.Kubelet(self),
                workloads.ReplicaSetController(self),
                workloads.DeploymentController(self),
                statefulset.StatefulSetController(self),
                daemonset.DaemonSetController(self),
                endpoints.EndpointsController(self),
            ]
            if self.node_heartbeat_interval > 0:
                out.append(nodes.NodeHeartbeat(self, interval=self.node_heartbeat_interval))
        if self.churn_rate > 0:
            self.churn = churn.Churn(self, rate=self.churn_rate)
            out.append(self.churn)
        return out

    async def start(self) -> None:
        self.manager = base.Manager(self.store, self._controllers())
        self._bootstrap()
        self.manager.start()

    async def stop(self) -> None:
        self.closing = True
        self.hub.close_all()
        if self.manager is not None:
            await self.manager.stop()
            self.manager = None


class KubeSim:
    """A served simulated cluster; use as ``async with KubeSim(...) as sim``."""

    def __init__(
        self,
        *,
        nodes: int = 3,
        seed: int | None = None,
        tls: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "",
        name: str = "sim",
        kubeconfig_dir: str | Path | None = None,
        **cluster_kw: Any,
    ) -> None:
        self.use_tls = tls
        self.host = host
        self.port = port
        self.name = name
        self._kubeconfig_dir = Path(kubeconfig_dir) if kubeconfig_dir else None
        self._tmp: str | None = None
        self.certs: tls.Certs | None = None
        self.cluster = Cluster(name=name, nodes=nodes, seed=seed, token=token, require_auth=tls, **cluster_kw)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.kubeconfig = ""

    @property
    def token(self) -> str:
        return self.cluster.token

    @property
    def ca_pem(self) -> bytes:
        return self.certs.ca_pem if self.certs else b""

    def client_ssl_context(self) -> ssl.SSLContext | None:
        return self.certs.client_context() if self.certs else None

    async def start(self) -> KubeSim:
        ctx = None
        if self.use_tls:
            hosts = (
                ("127.0.0.1", "localhost")
                if self.host in ("127.0.0.1", "localhost", "0.0.0.0")
                else (self.host, "127.0.0.1", "localhost")
            )
            self.certs = tls.make_certs(hosts)
            ctx = self.certs.server_context()
            self.cluster.ca_pem = self.certs.ca_pem
        app = server.make_app(self.cluster)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ctx)
        await site.start()
        self.port = self._runner.addresses[0][1]
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.url = f"{'https' if self.use_tls else 'http'}://{shown}:{self.port}"
        self.cluster.address = f"{shown}:{self.port}"
        if self._kubeconfig_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="bcs-sim-kube-")
            directory = Path(self._tmp)
        else:
            directory = self._kubeconfig_dir
        path = directory / f"{self.name}.kubeconfig"
        kubeconfig.write(path, name=self.name, server=self.url, token=self.token, ca_pem=self.ca_pem or None)
        self.kubeconfig = str(path)
        await self.cluster.start()
        return self

    async def stop(self) -> None:
        await self.cluster.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp:
            with contextlib.suppress(OSError):
                shutil.rmtree(self._tmp)
            self._tmp = None

    async def __aenter__(self) -> KubeSim:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
