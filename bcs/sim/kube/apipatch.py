"""PATCH (merge, JSON, strategic merge), server-side apply and the scale subresource."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import yaml

from bcs.sim.kube import (
    apply,
    fieldvalidation,
    patch,
    resources,
    selectors,
    status,
    store,
    typeschema,
    yamldecode,
)
from bcs.sim.kube.apibase import now_iso
from bcs.sim.kube.apiwrite import WriteApi

__all__ = ["APPLY", "JSON", "MERGE", "SMP", "PatchApi"]

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def _shown(ptype: str, body: Any, new: Any) -> str:
    """How a strict-decoding 422 of a patch quotes it (the patched JSON; the patch for SMP)."""
    if ptype == SMP:
        return json.dumps(fieldvalidation.go_value(body))
    return json.dumps(orjson.dumps(new).decode())


class PatchApi(WriteApi):
    """The patch content types, server-side apply, and the scale subresource."""

    # -- patch ----------------------------------------------------------------------------------
    def patch(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        name: str,
        ptype: str,
        raw: bytes,
        *,
        sub: str = "",
        manager: str = "",
        force: bool = False,
        dry_run: bool = False,
        fv: fieldvalidation.Check | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Apply a patch body of content type ``ptype``; returns (object, created)."""
        if ptype == APPLY:
            return self._apply(
                rt, ns, name, raw, sub=sub, manager=manager, force=force, dry_run=dry_run, fv=fv
            )
        body, patch_errors = fieldvalidation.parse_patch(raw, json_patch=ptype == JSON, fv=fv)
        if ptype == SMP and rt.is_custom:
            raise status.unsupported_media(
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )
        if sub == "scale":
            scale = self._patch_scale(rt, ns, name, ptype, body, patch_errors, fv)
            return self.update_scale(rt, ns, name, scale, manager=manager, dry_run=dry_run), False
        cur = self.get_obj(rt, ns, name)
        old = self._decode(rt, cur)
        if ptype == MERGE:
            if not isinstance(body, dict):
                raise status.bad_request("merge patch must be a JSON object")
            new = patch.merge_patch(old, body)
        elif ptype == JSON:
            new = patch.json_patch(old, body)
        elif ptype == SMP:
            new = patch.strategic_merge(old, body)
        else:
            raise status.unsupported_media(
                f"the body of the request was in an unknown format - accepted media "
                f"types include: {JSON}, {MERGE}, {SMP}, {APPLY}"
            )
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise status.bad_request("the patch produced an invalid object")
        if fv is not None:
            fv.patched(rt, new, patch_errors, _shown(ptype, body, new))
        rv = new["metadata"].get("resourceVersion")
        if rv and str(rv) != str(cur.rv):
            raise status.conflict(rt.plural, rt.group, name)
        new["metadata"]["resourceVersion"] = str(cur.rv)
        return self._commit(rt, cur, old, new, sub=sub, manager=manager, dry_run=dry_run), False

    def _apply(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        name: str,
        raw: bytes,
        *,
        sub: str,
        manager: str,
        force: bool,
        dry_run: bool,
        fv: fieldvalidation.Check | None,
    ) -> tuple[dict[str, Any], bool]:
        if not manager:
            raise status.bad_request(
                "PATCH, application/apply-patch+yaml requests require a fieldManager parameter"
            )
        try:
            applied, _ = yamldecode.load(raw)
        except yaml.YAMLError as exc:
            raise status.bad_request(f"error decoding YAML: {exc}") from None
        if not isinstance(applied, dict) or not applied.get("kind") or not applied.get("apiVersion"):
            raise status.bad_request("invalid object: apply patches must set apiVersion and kind")
        self._check_type(rt, applied)
        meta = applied["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise status.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if fv is not None:
            fieldvalidation.check_apply(rt, applied, raw, fv)
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = self._ns(rt, ns)
        cur = self.store.get(rt, self._ns(rt, ns), name)
        old = self._decode(rt, cur) if cur is not None else None
        new = apply.apply(
            old,
            applied,
            manager=manager,
            force=force,
            api_version=rt.api_version,
            now=now_iso(),
            conflict_name=(rt.plural, rt.group, name),
        )
        if cur is None:
            fields = new["metadata"].pop("managedFields", None)
            created = self.create(rt, ns, new, dry_run=dry_run)
            if fields and not dry_run:
                created["metadata"]["managedFields"] = fields
                created = self._commit(rt, self.get_obj(rt, ns, name), self.get(rt, ns, name), created)
            return created, True
        return self._commit(rt, cur, old, new, sub=sub, dry_run=dry_run), False

    # -- scale ----------------------------------------------------------------------------------
    def _scale_paths(self, rt: resources.ResourceType) -> tuple[str, str, str | None]:
        if rt.is_custom:
            sc = ((rt.crd or {}).get("subresources") or {}).get("scale") or {}
            return (
                sc.get("specReplicasPath", ".spec.replicas").lstrip("."),
                sc.get("statusReplicasPath", ".status.replicas").lstrip("."),
                (sc.get("labelSelectorPath") or "").lstrip(".") or None,
            )
        return "spec.replicas", "status.replicas", None

    def get_scale(self, rt: resources.ResourceType, ns: str | None, name: str) -> dict[str, Any]:
        obj = self.get(rt, ns, name)
        spec_path, status_path, sel_path = self._scale_paths(rt)
        meta = obj["metadata"]
        if sel_path:
            selector = store.dig(obj, sel_path) or ""
        else:
            selector = selectors.to_string((obj.get("spec") or {}).get("selector"))
        out_meta = {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        }
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": out_meta,
            "spec": {"replicas": store.dig(obj, spec_path) or 0},
            "status": {"replicas": store.dig(obj, status_path) or 0, "selector": selector},
        }

    def update_scale(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        name: str,
        body: Any,
        *,
        manager: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise status.bad_request("the body of the request must be a Scale object")
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise status.invalid(
                "Scale",
                "autoscaling",
                name,
                [
                    (
                        "FieldValueInvalid",
                        "spec.replicas",
                        f"Invalid value: {replicas}: must be greater than or equal to 0",
                    )
                ],
            )
        cur = self.get_obj(rt, ns, name)
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and str(rv) != str(cur.rv):
            raise status.conflict(rt.plural, rt.group, name)
        old = self._decode(rt, cur)
        new = copy.deepcopy(old)
        spec_path = self._scale_paths(rt)[0].split(".")
        node = new
        for part in spec_path[:-1]:
            node = node.setdefault(part, {})
        node[spec_path[-1]] = replicas
        self._commit(rt, cur, old, new, sub="scale", manager=manager, dry_run=dry_run)
        if dry_run:
            return body
        return self.get_scale(rt, ns, name)

    def _patch_scale(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        name: str,
        ptype: str,
        body: Any,
        patch_errors: list[str],
        fv: fieldvalidation.Check | None,
    ) -> dict[str, Any]:
        """The Scale a patch of the scale subresource asks for."""
        scale = self.get_scale(rt, ns, name)
        if ptype == JSON:
            new = patch.json_patch(scale, body)
        elif ptype == SMP:
            new = patch.strategic_merge(scale, body)
        else:
            new = patch.merge_patch(scale, body)
        if fv is not None and isinstance(new, dict):
            msg = typeschema.MESSAGES["autoscaling.Scale"]
            fv.patched(rt, new, patch_errors, _shown(ptype, body, new), msg)
        return new
