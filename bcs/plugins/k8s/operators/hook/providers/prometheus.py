"""The ``prometheus`` provider: an instant query against ``address``, evaluated as a number or list.

``provider.prometheus``: ``address`` (base URL of the Prometheus server) and ``query`` (PromQL,
templated with ``{{ args.X }}``). A ``scalar`` answer gives a float ``result``; a ``vector`` answer a
list of floats (stored as ``"[v1,v2]"``). Any NaN makes the measurement Inconclusive; other result
types, an error answer or a transport failure make it Error.
"""

from __future__ import annotations

import math
from typing import Any

import aiohttp

from bcs.plugins.k8s.operators.hook import expressions, model
from bcs.plugins.k8s.operators.hook import providers as base

__all__ = ["PrometheusProvider", "format_value"]

DEFAULT_TIMEOUT = 10.0  # seconds


def format_value(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` closely enough: ``1``, ``0.5``, ``NaN``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


class PrometheusProvider:
    """Runs instant queries through one shared aiohttp session (owned by the caller)."""

    name = "prometheus"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def measure(self, ctx: base.Context) -> base.Outcome:
        cfg = ctx.metric.provider
        try:
            address = str(cfg.get("address") or "").rstrip("/")
            query = base.render(str(cfg.get("query") or ""), ctx.args)
            if not address or not query:
                raise base.ProviderError("prometheus provider: address and query are required")
            data = await self._query(address, query, float(cfg.get("timeoutSeconds") or DEFAULT_TIMEOUT))
            result, text = _result(data)
            if any(math.isnan(v) for v in (result if isinstance(result, list) else [result])):
                return base.Outcome(model.INCONCLUSIVE, value=text, message="query returned NaN")
            phase = base.evaluate_conditions(ctx.metric, result)
        except (base.ProviderError, expressions.ExpressionError) as e:
            return base.Outcome(model.ERROR, message=str(e))
        return base.Outcome(phase, value=text)

    async def _query(self, address: str, query: str, timeout: float) -> dict[str, Any]:
        url = f"{address}/api/v1/query"
        try:
            async with self.session.get(
                url, params={"query": query}, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                body = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            raise base.ProviderError(f"prometheus query failed: {e!r}") from e
        if not isinstance(body, dict) or body.get("status") != "success":
            err = body.get("error") if isinstance(body, dict) else body
            raise base.ProviderError(f"prometheus query failed: {err}")
        return body.get("data") or {}


def _result(data: dict[str, Any]) -> tuple[float | list[float], str]:
    kind = data.get("resultType")
    raw = data.get("result")
    try:
        if kind == "scalar":
            v = float(raw[1])
            return v, format_value(v)
        if kind == "vector":
            values = [float(sample["value"][1]) for sample in raw or []]
            return values, "[" + ",".join(format_value(v) for v in values) + "]"
    except (TypeError, KeyError, IndexError, ValueError) as e:
        raise base.ProviderError(f"malformed prometheus {kind} result: {e!r}") from e
    raise base.ProviderError(f"unsupported prometheus result type {kind!r}")
