"""A raw-JSON Kubernetes API client for any resource kind, built on ``kubernetes_asyncio``'s ApiClient.

The generated typed APIs of ``kubernetes_asyncio`` only know built-in kinds; operators and the data
watch need custom resources too, as plain dicts. :class:`KubeClient` keeps the official client's
authentication and TLS handling (kubeconfig, in-cluster, token) and adds generic ``get``/``list``/
``watch``/``create``/``replace``/``patch``/``delete`` on a :class:`Resource`. Remote failures are mapped
once, in :func:`check_status`, onto the bcs error hierarchy.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import attrs
import orjson
from kubernetes_asyncio import client as kclient
from kubernetes_asyncio import config as kconfig

from bcs import errors

__all__ = [
    "Resource",
    "KubeClient",
    "Expired",
    "check_status",
    "connect",
    "MERGE_PATCH",
    "JSON_PATCH",
    "APPLY_PATCH",
]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
_BODY_LIMIT = 500  # characters of a remote error body kept in a message


class Expired(errors.TemporaryError):
    """HTTP 410 Gone: the resourceVersion asked for is older than the server's history; relist."""

    status = 410


@attrs.frozen
class Resource:
    """One API resource (``group``/``version``/``plural``); ``group`` is ``""`` for the core group."""

    group: str
    version: str
    plural: str
    kind: str = ""
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        """The URL path of the collection, of one object, or of one object's subresource."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if sub:
                base += f"/{sub}"
        return base


def _event(line: bytes | str) -> dict[str, Any]:
    """One watch event, decoded by orjson (most of what the data watch decodes is watch events); what
    orjson refuses but the standard library reads (a lone surrogate escape) goes to the latter."""
    try:
        return orjson.loads(line)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return json.loads(line)  # type: ignore[no-any-return]


def check_status(status: int, body: bytes, *, what: str) -> None:
    """Raise the bcs error matching a non-2xx answer; the message carries the API's own reason."""
    if 200 <= status < 300:
        return
    text = body.decode("utf-8", "replace")
    try:
        message = json.loads(text).get("message") or text
    except (ValueError, AttributeError):
        message = text
    message = f"{what}: {message[:_BODY_LIMIT]}"
    cls: type[errors.BcsError] = {
        400: errors.BadRequest,
        401: errors.Unauthorized,
        403: errors.Forbidden,
        404: errors.NotFound,
        409: errors.Conflict,
        410: Expired,
        422: errors.BadRequest,
    }.get(status, errors.BackendUnavailable)
    raise cls(message)


class KubeClient:
    """Generic API access on top of a configured ``kubernetes_asyncio`` ``ApiClient``.

    Close it with :meth:`close` (or ``async with``); the underlying ApiClient is closed with it.
    """

    def __init__(self, api: kclient.ApiClient, *, timeout: float = 30.0) -> None:
        self.api = api
        self.timeout = timeout  # seconds, for every request except watches

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    async def close(self) -> None:
        await self.api.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: aiohttp.ClientTimeout | float | None = None,
    ) -> aiohttp.ClientResponse:
        params = [(k, _qs(v)) for k, v in (query or {}).items() if v is not None]
        try:
            return await self.api.call_api(
                path,
                method,
                query_params=params,
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout if timeout is not None else self.timeout,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise errors.BackendUnavailable(f"{method} {path}: {e!r}") from e

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One API call; the decoded JSON answer, or a bcs error for a non-2xx status."""
        resp = await self._send(method, path, query=query, body=body, content_type=content_type)
        try:
            data = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise errors.BackendUnavailable(f"{method} {path}: {e!r}") from e
        finally:
            resp.release()
        check_status(resp.status, data, what=f"{method} {path}")
        return json.loads(data) if data else {}

    async def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        return await self.request("GET", res.path(namespace, name))

    async def list(self, res: Resource, namespace: str | None = None, **query: Any) -> dict[str, Any]:
        """A list answer (``items`` plus ``metadata.resourceVersion``/``continue``).

        Query keys are passed as given, e.g. ``labelSelector=``, ``limit=``, ``continue=``.
        """
        return await self.request("GET", res.path(namespace), query=query)

    async def create(self, res: Resource, namespace: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("POST", res.path(namespace), body=dict(body))

    async def replace(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        body: Mapping[str, Any],
        *,
        sub: str | None = None,
    ) -> dict[str, Any]:
        """PUT the whole object (or its ``sub``resource); a stale resourceVersion raises Conflict."""
        return await self.request("PUT", res.path(namespace, name, sub), body=dict(body))

    async def patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        patch_type: str = MERGE_PATCH,
        sub: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        query = {"fieldManager": field_manager, "force": force}
        return await self.request(
            "PATCH", res.path(namespace, name, sub), query=query, body=body, content_type=patch_type
        )

    async def delete(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        return await self.request("DELETE", res.path(namespace, name))

    async def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        bookmarks: bool = True,
        **query: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield raw watch events ``{"type": ..., "object": {...}}`` until the server ends the stream.

        An ``ERROR`` event carrying a 410 Status is raised as :class:`Expired`; any other ``ERROR``
        event is raised as the matching bcs error.
        """
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": timeout_seconds,
            "allowWatchBookmarks": bookmarks,
            **query,
        }
        # No total timeout: the server closes the stream after timeout_seconds; guard reads only.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=timeout_seconds + 30)
        resp = await self._send("GET", res.path(namespace), query=params, timeout=timeout)
        try:
            if not 200 <= resp.status < 300:
                check_status(resp.status, await resp.read(), what=f"watch {res.plural}")
            async for line in _lines(resp):
                event = _event(line)
                if event.get("type") == "ERROR":
                    obj = event.get("object") or {}
                    check_status(
                        int(obj.get("code") or 500), json.dumps(obj).encode(), what=f"watch {res.plural}"
                    )
                yield event
        except (aiohttp.ClientError, TimeoutError) as e:
            raise errors.BackendUnavailable(f"watch {res.plural}: {e!r}") from e
        finally:
            resp.close()


async def _lines(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    buf = b""
    async for chunk in resp.content.iter_any():
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if buf.strip():
        yield buf


def _qs(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def connect(
    kubeconfig: str | None = None,
    *,
    server: str | None = None,
    ca_pem: bytes | None = None,
    token: str | None = None,
    context: str | None = None,
    timeout: float = 30.0,
) -> KubeClient:
    """A client from a kubeconfig file, from ``server``/``ca_pem``/``token``, or in-cluster (no args).

    Unusable credentials raise :class:`bcs.errors.ConfigError`.
    """
    try:
        cfg = await _configure(kubeconfig, server=server, ca_pem=ca_pem, token=token, context=context)
    except kconfig.ConfigException as e:
        raise errors.ConfigError(f"cannot load cluster credentials: {e}") from e
    return KubeClient(kclient.ApiClient(configuration=cfg), timeout=timeout)


async def _configure(
    kubeconfig: str | None,
    *,
    server: str | None,
    ca_pem: bytes | None,
    token: str | None,
    context: str | None,
) -> kclient.Configuration:
    cfg = kclient.Configuration()
    if kubeconfig:
        await kconfig.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
    elif server:
        cluster: dict[str, Any] = {"server": server}
        if ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
        doc = {
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": {"token": token} if token else {}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        }
        await kconfig.load_kube_config_from_dict(doc, client_configuration=cfg)
    else:
        kconfig.load_incluster_config(client_configuration=cfg)
    return cfg
