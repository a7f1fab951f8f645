"""``--churn R``: about R pod changes per second (create, relabel, delete) in namespace ``churn``."""

from __future__ import annotations

from typing import Any

from bcs.sim.kube import status
from bcs.sim.kube.controllers import base

__all__ = ["Churn"]

NAMESPACE = "churn"
TICK = 0.1


class Churn(base.Controller):
    name = "churn"

    def __init__(self, cl: Any, *, rate: float, pool: int = 0) -> None:
        super().__init__(cl)
        self.rate = rate
        self.period = TICK
        self.pool = pool or max(100, int(rate * 10))
        self._carry = 0.0
        self._n = 0
        self.changes = 0

    def tick(self) -> None:
        rt = self.reg.builtin("", "pods")
        ns_rt = self.reg.builtin("", "namespaces")
        if self.api.find(ns_rt, None, NAMESPACE) is None:
            self.api.create(ns_rt, None, {"metadata": {"name": NAMESPACE}})
        self._carry += self.rate * TICK
        todo, self._carry = int(self._carry), self._carry - int(self._carry)
        names = self.cl.store.keys(rt, NAMESPACE)
        for _ in range(todo):
            roll = self.api.rng.random()
            try:
                if len(names) < self.pool or roll < 0.34:
                    self._n += 1
                    self.api.create(
                        rt,
                        NAMESPACE,
                        {
                            "metadata": {"generateName": "churn-", "labels": {"app": "churn"}},
                            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
                        },
                    )
                elif roll < 0.67:
                    _, name = names[self.api.rng.randrange(len(names))]
                    self.api.mutate(
                        rt,
                        NAMESPACE,
                        name,
                        lambda o: o["metadata"].setdefault("labels", {}).update(gen=str(self._n)),
                    )
                else:
                    _, name = names[self.api.rng.randrange(len(names))]
                    self.api.delete(rt, NAMESPACE, name, {"gracePeriodSeconds": 0})
                self.changes += 1
            except status.ApiError:
                pass
            names = self.cl.store.keys(rt, NAMESPACE)

    def reconcile(self, key: Any) -> None:
        return None
