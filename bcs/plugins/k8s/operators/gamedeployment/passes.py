"""One reconcile pass of a game workload: what it works on, and what it computes only once."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import attrs

from bcs.plugins.k8s.operators.hook import model as hook_model
from bcs.plugins.k8s.operators.workload import controller, revisions

if TYPE_CHECKING:
    from bcs.plugins.k8s.operators.gamedeployment.controller import GameDeploymentController

__all__ = ["Pass", "revision_of"]


@attrs.define
class Pass:
    """Everything one reconcile pass of one GameDeployment works on."""

    ctl: GameDeploymentController
    key: str
    gd: dict[str, Any]
    status: dict[str, Any]
    active: list[dict[str, Any]]
    revisions: list[dict[str, Any]]
    update_rev: str
    update_tpl: dict[str, Any]
    current_rev: str
    current_tpl: dict[str, Any]
    now: datetime.datetime
    partition: int = 0
    delay: float | None = None
    # Computed once per pass (``active``, ``update_rev`` and ``now`` never change during one); a pass
    # over 1,000 pods asks for these thousands of times.
    _stamp: str = attrs.field(init=False, default="")
    _split: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = attrs.field(init=False, default=None)
    memo: dict[int, tuple[dict[str, Any], bool]] = attrs.field(init=False, factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        return self.gd["spec"]

    @property
    def ns(self) -> str:
        return self.gd["metadata"]["namespace"]

    @property
    def stamp(self) -> str:
        if not self._stamp:
            self._stamp = hook_model.format_time(self.now)
        return self._stamp

    @property
    def owner(self) -> dict[str, Any]:
        return controller.owner_ref(self.gd)

    def _by_revision(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if self._split is None:
            updated: list[dict[str, Any]] = []
            old: list[dict[str, Any]] = []
            for pod in self.active:
                (updated if revision_of(pod) == self.update_rev else old).append(pod)
            self._split = (updated, old)
        return self._split

    @property
    def updated(self) -> list[dict[str, Any]]:
        return self._by_revision()[0]

    @property
    def not_updated(self) -> list[dict[str, Any]]:
        return self._by_revision()[1]

    def requeue(self, seconds: float) -> None:
        self.delay = seconds if self.delay is None else min(self.delay, seconds)


def revision_of(pod: dict[str, Any]) -> str:
    """The pod's ``controller-revision-hash`` label ("" when missing)."""
    return ((pod.get("metadata") or {}).get("labels") or {}).get(revisions.REVISION_LABEL, "")
