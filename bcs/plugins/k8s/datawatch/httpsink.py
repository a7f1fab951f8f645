"""The storage HTTP API as a :class:`~bcs.plugins.k8s.datawatch.sink.Sink` (``bcs agent watch``).

One request per object, as upstream's watch does, run concurrently within a batch (a batch holds
each object once, so per-object order is kept). A 400 means the storage refuses the object itself
(logged, skipped); a connection failure, a timeout or any other status is raised as
:class:`bcs.errors.BackendUnavailable` and retried by the caller.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

from bcs import errors
from bcs.plugins.k8s.datawatch import sink

__all__ = ["HttpSink"]

logger = logging.getLogger(__name__)

PREFIX = "/bcsapi/v4/storage"
PAGE = 5000  # rows per listing request of a diff
_BODY_LIMIT = 300


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class HttpSink(sink.Sink):
    """Writes to the storage API at ``base_url`` (``https://bcs:8443``) with a bearer ``token``."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        ssl_context: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
        concurrency: int = 32,
    ) -> None:
        self.base = base_url.rstrip("/") + PREFIX
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.ssl = ssl_context
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.limit = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self.headers, timeout=self.timeout, json_serialize=lambda v: orjson.dumps(v).decode()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, *, body: Any = None, params: Any = None) -> Any:
        url = self.base + path
        try:
            async with (
                self.limit,
                self._client().request(method, url, json=body, params=params, ssl=self.ssl) as resp,
            ):
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise errors.BackendUnavailable(f"storage {method} {path}: {e!r}") from e
        if status == 400:
            raise errors.BadRequest(f"storage refused {method} {path}: {raw[:_BODY_LIMIT]!r}")
        if not 200 <= status < 300:
            raise errors.BackendUnavailable(f"storage {method} {path}: HTTP {status}: {raw[:_BODY_LIMIT]!r}")
        try:
            return orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as e:
            raise errors.BackendUnavailable(f"storage {method} {path}: not JSON") from e

    async def _all(self, calls: Sequence[Any]) -> None:
        """Run every call; skip refused objects, raise the first other failure once all have ended."""
        failure: BaseException | None = None
        for result in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(result, errors.BadRequest):
                logger.error("%s", result.message)
            elif isinstance(result, BaseException) and failure is None:
                failure = result
        if failure is not None:
            raise failure

    @staticmethod
    def _path(cluster_id: str, item: sink.Put | sink.Delete) -> str:
        if item.namespace:
            return (
                f"/k8s/dynamic/namespace_resources/clusters/{_q(cluster_id)}/namespaces/"
                f"{_q(item.namespace)}/{_q(item.resource_type)}/{_q(item.name)}"
            )
        cluster = _q(cluster_id)
        return f"/k8s/dynamic/cluster_resources/clusters/{cluster}/{_q(item.resource_type)}/{_q(item.name)}"

    async def put(self, cluster_id: str, items: Sequence[sink.Put]) -> None:
        await self._all([self._call("PUT", self._path(cluster_id, i), body={"data": i.data}) for i in items])

    async def delete(self, cluster_id: str, items: Sequence[sink.Delete]) -> None:
        await self._all([self._call("DELETE", self._path(cluster_id, i)) for i in items])

    async def put_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        await self._all([self._call("PUT", "/events", body=dict(e)) for e in events])

    async def _pages(self, path: str, params: dict[str, Any], *, size: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            answer = await self._call("GET", path, params={**params, "offset": len(rows), size: PAGE})
            page = (answer or {}).get("data") or []
            rows.extend(page)
            if len(page) < PAGE:
                return rows

    async def stored(self, cluster_id: str, resource_type: str) -> sink.StoredKeys:
        path = f"/k8s/dynamic/all_resources/clusters/{_q(cluster_id)}/{_q(resource_type)}"
        rows = await self._pages(path, {"field": f"namespace,resourceName,{sink.RV}"}, size="limit")
        return sink.parse_stored_keys(rows)

    async def stored_events(self, cluster_id: str, since: float) -> sink.StoredEvents:
        begin = datetime.datetime.fromtimestamp(since, datetime.UTC)
        params = {
            "clusterId": cluster_id,
            "timeBegin": int(begin.timestamp()),
            "field": f"data.metadata.namespace,data.metadata.name,{sink.RV}",
        }
        return sink.parse_stored_events(await self._pages("/events", params, size="length"))
