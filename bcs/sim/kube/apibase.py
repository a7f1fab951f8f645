"""The state and read side of the apiserver's object semantics, shared by the write verbs.

``Api`` (``api``) is built on this: ``apiwrite`` adds create/update/delete, ``apipatch`` the patch
types, server-side apply and the scale subresource.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from typing import Any

from bcs.sim.kube import kinds, resources, status, store, views

__all__ = ["ApiBase", "now_iso"]

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiBase:
    """One cluster's store and kinds, the reads, and the checks every write shares."""

    def __init__(self, st: store.Store, registry: resources.Registry, *, seed: int | None = None) -> None:
        self.store = st
        self.registry = registry
        self.rng = random.Random(seed)
        self._next_ip = 1
        self._next_node_port = 30000
        # Hooks the cluster installs: called after a CRD is written or deleted.
        self.on_crd: Callable[[dict[str, Any] | None, str], None] | None = None

    # -- helpers --------------------------------------------------------------------------------
    def random_suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice(_NAME_CHARS) for _ in range(n))

    def _ns(self, rt: resources.ResourceType, ns: str | None) -> str:
        return (ns or "") if rt.namespaced else ""

    def storage(self, rt: resources.ResourceType) -> resources.ResourceType:
        """The kind whose storage ``rt`` reads (``rt`` itself unless it is a view)."""
        return self.registry.by_key(rt.key) or rt if rt.is_view else rt

    def _decode(self, rt: resources.ResourceType, obj: store.Obj) -> dict[str, Any]:
        return views.to_view(rt, obj.decode()) if rt.is_view else obj.decode()

    def _validate_view(
        self, rt: resources.ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        if rt.is_view:
            srt = self.storage(rt)
            views.validate(rt, views.from_view(rt, obj, srt), old and views.from_view(rt, old, srt))

    def _put(self, rt: resources.ResourceType, obj: dict[str, Any]) -> None:
        """Store ``obj`` (in ``rt``'s shape); its resourceVersion is written into it."""
        if rt.is_view:
            srt = self.storage(rt)
            self.store.put(srt, views.from_view(rt, obj, srt))
        else:
            self.store.put(rt, obj)

    def get_obj(self, rt: resources.ResourceType, ns: str | None, name: str) -> store.Obj:
        obj = self.store.get(rt, self._ns(rt, ns), name)
        if obj is None:
            raise status.not_found(rt.plural, rt.group, name)
        return obj

    def get(self, rt: resources.ResourceType, ns: str | None, name: str) -> dict[str, Any]:
        return self._decode(rt, self.get_obj(rt, ns, name))

    def find(self, rt: resources.ResourceType, ns: str | None, name: str) -> dict[str, Any] | None:
        obj = self.store.get(rt, self._ns(rt, ns), name)
        return self._decode(rt, obj) if obj is not None else None

    def _check_namespace(self, rt: resources.ResourceType, ns: str) -> None:
        if not rt.namespaced:
            return
        nrt = self.registry.builtin("", "namespaces")
        nobj = self.store.get(nrt, "", ns)
        if nobj is None:
            raise status.not_found("namespaces", "", ns)
        if b'"deletionTimestamp"' in nobj.raw:
            raise status.forbidden(
                f'{rt.plural} "{{name}}" is forbidden: unable to create new content in namespace {ns} '
                "because it is being terminated",
                {
                    "kind": rt.plural,
                    "group": rt.group,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {ns} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _invalid(self, rt: resources.ResourceType, name: str, causes: list[kinds.Cause]) -> status.ApiError:
        return status.invalid(rt.kind, rt.group, name, causes)

    def _check_type(self, rt: resources.ResourceType, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise status.bad_request("the body of the request must be a JSON object")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != rt.kind:
            raise status.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        if api_version and api_version != rt.api_version:
            raise status.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version})"
            )
        body["kind"], body["apiVersion"] = rt.kind, rt.api_version
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise status.bad_request("metadata must be an object")
        return body
