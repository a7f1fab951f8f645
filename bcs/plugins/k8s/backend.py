"""The Kubernetes backend: per-cluster work (data watch and operators) for every owned k8s cluster.

``start`` launches a :class:`~bcs.plugins.k8s.datawatch.manager.Manager` as a guarded task when the
data watch or any operator is enabled; ``close`` stops it, which hands this process's clusters back
at once (its ownership lease is revoked) so another ``bcs`` process takes them without waiting.
The data watch writes through the storage service of this process (``BackendContext.storage``);
its metrics, and those of the operators of every cluster (labelled ``cluster``), go to the
application's registry (``BackendContext.metrics``, served on ``/metrics``) when one is given.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any

from bcs.core import backend, tasks
from bcs.core import metrics as core_metrics
from bcs.plugins.k8s import settings as settings_mod
from bcs.plugins.k8s.datawatch import metrics as metrics_mod

if TYPE_CHECKING:
    from bcs.plugins.k8s.datawatch import manager

__all__ = ["K8sBackend"]

logger = logging.getLogger(__name__)


class K8sBackend(backend.Backend):
    """Kubernetes clusters (engine type ``k8s``)."""

    engines = ("k8s",)

    def __init__(self, context: backend.BackendContext) -> None:
        super().__init__(context)
        self.settings = settings_mod.load_settings(context.settings)
        self.identity = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.metrics = metrics_mod.Metrics(context.metrics)
        self.operator_metrics = core_metrics.JoinedRegistries("cluster")
        if context.metrics is not None:
            context.metrics.register(self.operator_metrics)
        self.manager: manager.Manager | None = None
        self._task: asyncio.Task[Any] | None = None

    @staticmethod
    def name() -> str:
        return "k8s"

    async def start(self) -> None:
        # Imported here: the data watch and the operators pull in the Kubernetes client, which every
        # ``bcs`` command would otherwise pay for at start.
        from bcs.plugins.k8s.datawatch import manager, sink

        storage = self.context.storage
        target = None
        if self.settings.watch:
            if storage is None:
                logger.warning("k8s: no storage service in this process; the data watch is off")
            else:
                target = sink.ServiceSink(storage)
        operators = self.settings.operators  # validated against OPERATORS on load
        if target is None and not operators:
            return
        dw = self.settings.data_watch
        self.manager = manager.Manager(
            kv=self.context.kv,
            clusters=self.context.clusters,
            prefix=self.context.settings.kv.prefix,
            identity=self.identity,
            ttl=dw.lease_ttl,
            run_cluster=manager.cluster_work(
                target=target,
                settings=dw,
                metrics=self.metrics,
                operators=operators,
                identity=self.identity,
                operator_metrics=self.operator_metrics,
            ),
            metrics=self.metrics,
        )
        self._task = tasks.create_guarded_task(name="k8s.clusters", coro=self.manager.run())

    async def close(self) -> None:
        if self._task is not None:
            await tasks.stop_tasks([self._task], timeout=self.context.settings.server.shutdown_timeout)
            self._task = None
