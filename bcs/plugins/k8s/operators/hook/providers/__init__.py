"""Measurement providers of the Hook operator (``web``, ``prometheus``, ``kubernetes``).

A provider takes one measurement: ``await provider.measure(ctx)`` returns a :class:`Outcome` (phase,
value, message); the controller stamps the times. Shared here: the ``{{ args.X }}`` templating and the
success/failure condition rules of bk-bcs ``evaluate.go``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from bcs.plugins.k8s.operators.hook import expressions, model

__all__ = ["Context", "Outcome", "Provider", "ProviderError", "render", "evaluate_conditions"]

_ARG = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")


class ProviderError(Exception):
    """A measurement could not be taken (bad config, transport error...): an Error measurement."""


@attrs.frozen
class Context:
    """What one measurement needs: the HookRun, the metric and the resolved args."""

    run: Mapping[str, Any]
    metric: model.Metric
    args: Mapping[str, str]

    @property
    def namespace(self) -> str:
        return str((self.run.get("metadata") or {}).get("namespace") or "default")


@attrs.frozen
class Outcome:
    phase: str
    value: str = ""
    message: str = ""


class Provider(Protocol):
    name: str

    async def measure(self, ctx: Context) -> Outcome: ...


def render(template: str, args: Mapping[str, str]) -> str:
    """Replace every ``{{ args.Name }}``; a name that is not an arg raises :class:`ProviderError`."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in args:
            raise ProviderError(f"failed to resolve {{{{args.{name}}}}}: no such arg")
        return args[name]

    return _ARG.sub(sub, template)


def evaluate_conditions(metric: model.Metric, result: Any) -> str:
    """The measurement phase for ``result`` (evaluation errors raise ExpressionError -> Error).

    No condition: Successful. Only success: Successful or Failed. Only failure: Failed or Successful.
    Both: failure true -> Failed, else success true -> Successful, else Inconclusive.
    """
    success, failure = metric.success_condition, metric.failure_condition
    if not success and not failure:
        return model.SUCCESSFUL
    ok = expressions.evaluate(success, result) if success else None
    bad = expressions.evaluate(failure, result) if failure else None
    if bad is None:
        return model.SUCCESSFUL if ok else model.FAILED
    if ok is None:
        return model.FAILED if bad else model.SUCCESSFUL
    if bad:
        return model.FAILED
    return model.SUCCESSFUL if ok else model.INCONCLUSIVE
