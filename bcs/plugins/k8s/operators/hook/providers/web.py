"""The ``web`` provider: GET a URL, pick a value out of the JSON answer, evaluate the conditions.

``provider.web``: ``url`` and header values are templated with ``{{ args.X }}``; ``timeoutSeconds``
(default 10) bounds the request; ``jsonPath`` (Kubernetes JSONPath, e.g. ``{$.age}``) extracts the
string ``result`` from the JSON body (without one, ``result`` is the whole body as text). A non-2xx
status, a transport error, a body that is not JSON or a bad jsonPath is an Error measurement.
"""

from __future__ import annotations

import json

import aiohttp

from bcs.plugins.k8s.operators.hook import expressions, model
from bcs.plugins.k8s.operators.hook import providers as base
from bcs.plugins.k8s.operators.hook.providers import jsonpath

__all__ = ["WebProvider"]

DEFAULT_TIMEOUT = 10.0  # seconds
_BODY_LIMIT = 200  # characters of an unexpected body quoted in a message


class WebProvider:
    """Measures with HTTP GET through one shared aiohttp session (owned by the caller)."""

    name = "web"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def measure(self, ctx: base.Context) -> base.Outcome:
        cfg = ctx.metric.provider
        try:
            url = base.render(str(cfg.get("url") or ""), ctx.args)
            headers = {
                str(h.get("key")): base.render(str(h.get("value") or ""), ctx.args)
                for h in cfg.get("headers") or []
            }
            if not url:
                raise base.ProviderError("web provider: url is required")
            status, body = await self._get(url, headers, float(cfg.get("timeoutSeconds") or DEFAULT_TIMEOUT))
            if not 200 <= status < 300:
                raise base.ProviderError(f"received non 2xx response code: {status}")
            try:
                data = json.loads(body)
            except ValueError:
                raise base.ProviderError(f"could not parse JSON body: {body[:_BODY_LIMIT]!r}") from None
            path = str(cfg.get("jsonPath") or "")
            value = jsonpath.render(path, data) if path else body
            phase = base.evaluate_conditions(ctx.metric, value)
        except (base.ProviderError, jsonpath.JsonPathError, expressions.ExpressionError) as e:
            return base.Outcome(model.ERROR, message=str(e))
        return base.Outcome(phase, value=value)

    async def _get(self, url: str, headers: dict[str, str], timeout: float) -> tuple[int, str]:
        try:
            async with self.session.get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                return resp.status, await resp.text()
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            raise base.ProviderError(f"GET {url} failed: {e!r}") from e
