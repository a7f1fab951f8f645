"""Running the operators: ``bcs operator --kubeconfig F`` and ``bcs crds install --kubeconfig F``.

:func:`run_operators` is what both the standalone command and ``bcs serve`` (one per cluster that
enables operators) run: a :class:`~bcs.plugins.k8s.kube.leader.LeaderElector` whose leader runs the
selected controllers, so two replicas never both act. :func:`install_crds` server-side-applies the CRDs
shipped as package data (``crds/`` beside this module; ``config/crds`` links there) and waits until
the API serves them. ``bcs operator`` and ``bcs crds install`` are wired in by the k8s plugin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import pathlib
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import prometheus_client
import yaml
from aiohttp import web

from bcs import errors
from bcs.core import metrics as core_metrics
from bcs.plugins.k8s.kube import client, leader
from bcs.plugins.k8s.operators import commands
from bcs.plugins.k8s.operators.commands import CRD_DIR, configure_crds_parser, configure_parser
from bcs.plugins.k8s.operators.gamedeployment import controller as gd_controller
from bcs.plugins.k8s.operators.gamestatefulset import controller as gsts_controller
from bcs.plugins.k8s.operators.hook import controller as hook_controller

__all__ = [
    "CRD_DIR",
    "CRDS",
    "OPERATORS",
    "configure_parser",
    "configure_crds_parser",
    "install_crds",
    "apply_crds",
    "run",
    "run_crds",
    "run_operators",
]

logger = logging.getLogger(__name__)

CRDS = client.Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)
_CONTROLLERS: dict[str, Callable[..., Any]] = {  # one per name in OPERATORS, in the order they start
    "hook": hook_controller.HookController,
    "gamedeployment": gd_controller.GameDeploymentController,
    "gamestatefulset": gsts_controller.GameStatefulSetController,
}
OPERATORS = commands.OPERATORS
FIELD_MANAGER = "bcs"


def _crd_files(directory: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


async def apply_crds(
    kube: client.KubeClient, *, directory: pathlib.Path = CRD_DIR, timeout: float = 30.0
) -> list[str]:
    """Server-side apply every CRD in ``directory``; wait until each is served. Returns their names."""
    names = []
    for path in _crd_files(directory):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            name = doc["metadata"]["name"]
            await kube.patch(
                CRDS, None, name, doc, patch_type=client.APPLY_PATCH, field_manager=FIELD_MANAGER, force=True
            )
            names.append(name)
            await _wait_served(kube, doc, timeout=timeout)
    return names


async def _wait_served(kube: client.KubeClient, crd: dict[str, Any], *, timeout: float) -> None:
    spec = crd["spec"]
    deadline = time.monotonic() + timeout
    for version in spec["versions"]:
        path = f"/apis/{spec['group']}/{version['name']}"
        while True:
            try:
                listing = await kube.request("GET", path)
                if any(r.get("name") == spec["names"]["plural"] for r in listing.get("resources") or []):
                    break
            except errors.NotFound:
                pass
            if time.monotonic() > deadline:
                raise errors.BackendUnavailable(f"CRD {crd['metadata']['name']} not served after {timeout}s")
            await asyncio.sleep(0.1)


async def install_crds(kubeconfig: str, *, directory: pathlib.Path = CRD_DIR) -> list[str]:
    """``bcs crds install``: apply the CRDs to the cluster of ``kubeconfig``."""
    async with await client.connect(kubeconfig) as kube:
        return await apply_crds(kube, directory=directory)


async def run_operators(
    kube: client.KubeClient,
    *,
    operators: Sequence[str] = OPERATORS,
    identity: str | None = None,
    lease_namespace: str = "kube-system",
    lease_name: str = "bcs-operators",
    lease_duration: float = 15.0,
    renew_deadline: float = 10.0,
    retry_period: float = 2.0,
    release_on_cancel: bool = True,
    namespace: str | None = None,
    controllers: list[Any] | None = None,
    metrics: core_metrics.JoinedRegistries | None = None,
    metrics_label: str = "",
) -> None:
    """Run the selected operators on ``kube`` behind a Lease, until cancelled.

    ``controllers``, when given, receives the controller objects each time this replica starts leading
    (tests use it to reach them). ``metrics``, when given, serves each controller's registry under
    ``metrics_label`` (the cluster id in ``bcs serve``) while this replica leads.
    """
    unknown = sorted(set(operators) - set(OPERATORS))
    if unknown:
        raise errors.ConfigError(f"unknown operators {unknown}; available: {list(OPERATORS)}")
    identity = identity or f"{socket.gethostname()}-{os.getpid()}"

    async def lead() -> None:
        built: list[Any] = [
            build(kube, namespace=namespace) for name, build in _CONTROLLERS.items() if name in operators
        ]
        if controllers is not None:
            controllers.extend(built)
        detach = (
            [metrics.attach(metrics_label, c.metrics.registry) for c in built] if metrics is not None else []
        )
        try:
            await asyncio.gather(*(c.run() for c in built))
        finally:
            for undo in detach:
                undo()

    elector = leader.LeaderElector(
        kube,
        name=lease_name,
        namespace=lease_namespace,
        identity=identity,
        lead=lead,
        lease_duration=lease_duration,
        renew_deadline=renew_deadline,
        retry_period=retry_period,
        release_on_cancel=release_on_cancel,
    )
    await elector.run()


def _host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise errors.ConfigError(f"--metrics-address {address!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


@contextlib.asynccontextmanager
async def _metrics_server(address: str | None) -> AsyncIterator[core_metrics.JoinedRegistries | None]:
    """Serve the operators' registries on ``address`` while the block runs (nothing when None)."""
    if not address:
        yield None
        return
    host, port = _host_port(address)
    joined = core_metrics.JoinedRegistries(label=None)
    registry = prometheus_client.CollectorRegistry()
    registry.register(joined)

    async def scrape(request: web.Request) -> web.Response:
        body = prometheus_client.generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        logger.info("operator metrics on http://%s:%d/metrics", host, port)
        yield joined
    finally:
        await runner.cleanup()


async def _operator_main(args: argparse.Namespace) -> None:
    kube = await client.connect(args.kubeconfig, context=args.context)
    async with kube, _metrics_server(args.metrics_address) as metrics:
        await run_operators(
            kube,
            operators=[o.strip() for o in args.operators.split(",") if o.strip()],
            identity=args.identity,
            lease_namespace=args.lease_namespace,
            lease_name=args.lease_name,
            lease_duration=args.lease_duration,
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
            namespace=args.namespace,
            metrics=metrics,
        )


async def _until_signalled(args: argparse.Namespace) -> None:
    """``_operator_main`` until SIGTERM (how Kubernetes stops a pod) or SIGINT cancels it, so the
    Lease is released on the way out."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await _operator_main(args)


def run(args: argparse.Namespace) -> int:
    """``bcs operator``: run until SIGTERM or Ctrl-C (then 0), 1 on a startup error."""
    try:
        asyncio.run(_until_signalled(args))
    except KeyboardInterrupt:
        return 0
    except errors.BcsError as e:
        logger.error("%s", e.message)
        return 1
    return 0


def run_crds(args: argparse.Namespace) -> int:
    """``bcs crds install``: print each applied CRD; 1 when the cluster refused them."""
    try:
        names = asyncio.run(install_crds(args.kubeconfig, directory=pathlib.Path(args.dir)))
    except errors.BcsError as e:
        print(f"error: {e.message}")
        return 1
    for name in names:
        print(f"customresourcedefinition.apiextensions.k8s.io/{name} serverside-applied")
    return 0
