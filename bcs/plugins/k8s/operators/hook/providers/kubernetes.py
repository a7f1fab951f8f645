"""The ``kubernetes`` provider: read or set annotations on the object the args name.

The target comes from the run's args: ``Group``/``Version``/``Kind`` (default core ``v1`` ``Pod``),
``PodNamespace`` (default: the HookRun's namespace) and ``PodName``. ``provider.kubernetes``:
``function`` is ``get`` or ``patch``; every ``fields[].path`` must be ``metadata.annotations.<key>``.
``get`` is Successful when every annotation equals its ``value`` (else Error, as bk-bcs); ``patch``
JSON-patches ``add /metadata/annotations/<key>`` for every field and is Successful when accepted.
"""

from __future__ import annotations

from typing import Any

from bcs import errors
from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.hook import model
from bcs.plugins.k8s.operators.hook import providers as base

__all__ = ["KubernetesProvider"]

_PREFIX = "metadata.annotations."


def _escape(key: str) -> str:
    """RFC 6901 escaping of one JSON-pointer token."""
    return key.replace("~", "~0").replace("/", "~1")


class KubernetesProvider:
    """Reads/patches objects through the operator's own cluster client."""

    name = "kubernetes"

    def __init__(self, kube: client.KubeClient) -> None:
        self.kube = kube
        self._resources: dict[tuple[str, str, str], client.Resource] = {}

    async def measure(self, ctx: base.Context) -> base.Outcome:
        cfg = ctx.metric.provider
        try:
            fields = [(self._key(f), str(f.get("value") or "")) for f in cfg.get("fields") or []]
            if not fields:
                raise base.ProviderError("kubernetes provider: fields are required")
            function = cfg.get("function") or "get"
            name = ctx.args.get("PodName") or ""
            if not name:
                raise base.ProviderError("kubernetes provider: arg PodName is required")
            namespace = ctx.args.get("PodNamespace") or ctx.namespace
            res = await self._resource(
                ctx.args.get("Group", ""), ctx.args.get("Version", "v1"), ctx.args.get("Kind", "Pod")
            )
            obj = await self.kube.get(res, namespace, name)
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if function == "get":
                for key, want in fields:
                    if annotations.get(key) != want:
                        raise base.ProviderError(
                            f"annotation {key} is {annotations.get(key)!r}, expected {want!r}"
                        )
                return base.Outcome(model.SUCCESSFUL, value=",".join(f"{k}={v}" for k, v in fields))
            if function == "patch":
                ops: list[dict[str, Any]] = []
                if not (obj.get("metadata") or {}).get("annotations"):
                    ops.append({"op": "add", "path": "/metadata/annotations", "value": {}})
                ops += [
                    {"op": "add", "path": f"/metadata/annotations/{_escape(k)}", "value": v}
                    for k, v in fields
                ]
                await self.kube.patch(res, namespace, name, ops, patch_type=client.JSON_PATCH)
                return base.Outcome(model.SUCCESSFUL, value=",".join(f"{k}={v}" for k, v in fields))
            raise base.ProviderError(f"kubernetes provider: unknown function {function!r} (get or patch)")
        except base.ProviderError as e:
            return base.Outcome(model.ERROR, message=str(e))
        except errors.BcsError as e:
            return base.Outcome(model.ERROR, message=e.message)

    @staticmethod
    def _key(field: dict[str, Any]) -> str:
        path = str(field.get("path") or "")
        if not path.startswith(_PREFIX) or len(path) == len(_PREFIX):
            raise base.ProviderError(f"kubernetes provider: path {path!r} must be metadata.annotations.<key>")
        return path[len(_PREFIX) :]

    async def _resource(self, group: str, version: str, kind: str) -> client.Resource:
        """Find the plural and scope of ``kind`` through discovery (cached)."""
        cache_key = (group, version, kind)
        if cache_key not in self._resources:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                listing = await self.kube.request("GET", path)
            except errors.NotFound:
                raise base.ProviderError(
                    f"kubernetes provider: API {group}/{version} is not served"
                ) from None
            for r in listing.get("resources") or []:
                if r.get("kind") == kind and "/" not in str(r.get("name")):
                    self._resources[cache_key] = client.Resource(
                        group, version, r["name"], kind, bool(r.get("namespaced"))
                    )
                    break
            else:
                raise base.ProviderError(f"kubernetes provider: kind {kind} is not served by {path}")
        return self._resources[cache_key]
