"""The Kubernetes data watch: every kind of a cluster list+watched into the storage service.

What belongs here: choosing the kinds (:mod:`.filters`, :mod:`.discovery`), shaping objects for
storage (:mod:`.convert`), the per-kind watchers and their diff against storage (:mod:`.watcher`),
the sharded writers (:mod:`.writer`), where writes go (:mod:`.sink`: in-process or over HTTP), one
cluster's loop (:mod:`.cluster`), per-cluster ownership on the KV port (:mod:`.ownership`), the
manager that follows the cluster registry (:mod:`.manager`), metrics and the ``bcs agent watch``
command (:mod:`.cli`). Generic list/watch and work-queue code lives in :mod:`bcs.plugins.k8s.kube`.
"""

from __future__ import annotations

__all__: list[str] = []
