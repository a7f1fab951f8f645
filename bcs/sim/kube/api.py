"""Object lifecycle semantics of the apiserver: create, update, patch, apply, delete, subresources.

Both the HTTP handlers and the built-in controllers go through ``Api``, so controllers see and make
exactly the changes a client would. Everything here is synchronous and runs on the event loop:
each call is one atomic step over the store.
"""

from __future__ import annotations

import copy
import datetime
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import yaml

from bcs.sim.kube import (
    apply,
    fieldvalidation,
    kinds,
    patch,
    resources,
    selectors,
    status,
    store,
    structural,
    typeschema,
    views,
)

__all__ = ["MERGE", "JSON", "SMP", "APPLY", "Api", "now_iso"]

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_UNDELETABLE_NS = {"default", "kube-system", "kube-public"}


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object minus what changes on every write anyway (resourceVersion, managedFields times)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("resourceVersion", None)
    if meta.get("managedFields"):
        meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in meta["managedFields"]]
    out["metadata"] = meta
    return out


def _shown(ptype: str, body: Any, new: Any) -> str:
    """How a strict-decoding 422 of a patch quotes it (the patched JSON; the patch for SMP)."""
    if ptype == SMP:
        return json.dumps(fieldvalidation.go_value(body))
    return json.dumps(orjson.dumps(new).decode())


class Api:
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

    # -- create ---------------------------------------------------------------------------------
    def create(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        body: Any,
        *,
        manager: str = "",
        dry_run: bool = False,
        fv: fieldvalidation.Check | None = None,
    ) -> dict[str, Any]:
        obj = self._check_type(rt, body)
        if fv is not None:
            fv.decoded(rt, obj)
        meta = obj["metadata"]
        ns = self._ns(rt, ns)
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise status.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + self.random_suffix()
                while self.store.get(rt, ns, meta["name"]) is not None:
                    meta["name"] = meta["generateName"] + self.random_suffix()
            else:
                raise self._invalid(
                    rt,
                    "",
                    [
                        (
                            "FieldValueRequired",
                            "metadata.name",
                            "Required value: name or generateName is required",
                        )
                    ],
                )
        name = meta["name"]
        kinds.defaults(rt, obj)
        self._default_custom(rt, obj)
        causes = kinds.validate(rt, obj)
        if causes:
            raise self._invalid(rt, name, causes)
        self._validate_view(rt, obj, None)
        if self.store.get(rt, ns, name) is not None:
            raise status.already_exists(rt.plural, rt.group, name)
        self._check_namespace(rt, ns)
        for key in ("uid", "resourceVersion", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        meta["creationTimestamp"] = now_iso()
        if rt.has_generation or rt.is_custom:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if "status" in rt.subresources:
            initial = kinds.initial_status(rt, obj)
            if initial is not None:
                obj["status"] = initial
            elif rt.is_custom:
                obj.pop("status", None)
        self._allocate(rt, obj)
        if manager:
            meta.pop("managedFields", None)
            apply.record_update(None, obj, manager=manager, api_version=rt.api_version, now=now_iso())
        if dry_run:
            return obj
        self._put(rt, obj)
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions" and self.on_crd:
            self.on_crd(obj, "ADDED")
        return obj

    def _allocate(self, rt: resources.ResourceType, obj: dict[str, Any]) -> None:
        if rt.key != "/services":
            return
        spec = obj.setdefault("spec", {})
        if spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            n = self._next_ip
            self._next_ip += 1
            spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
        spec["clusterIPs"] = [spec["clusterIP"]]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for p in spec.get("ports") or []:
                if not p.get("nodePort"):
                    p["nodePort"] = self._next_node_port
                    self._next_node_port += 1

    # -- update ---------------------------------------------------------------------------------
    def update(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        name: str,
        body: Any,
        *,
        sub: str = "",
        manager: str = "",
        dry_run: bool = False,
        fv: fieldvalidation.Check | None = None,
    ) -> dict[str, Any]:
        new = self._check_type(rt, body)
        if fv is not None:
            fv.decoded(rt, new)
        meta = new["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise status.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        cur = self.get_obj(rt, ns, name)
        rv = meta.get("resourceVersion")
        if rv and str(rv) != str(cur.rv):
            raise status.conflict(rt.plural, rt.group, name)
        return self._commit(rt, cur, self._decode(rt, cur), new, sub=sub, manager=manager, dry_run=dry_run)

    def _commit(
        self,
        rt: resources.ResourceType,
        cur: store.Obj,
        old: dict[str, Any],
        new: dict[str, Any],
        *,
        sub: str = "",
        manager: str = "",
        dry_run: bool = False,
        validate: bool = True,
    ) -> dict[str, Any]:
        """Turn a client's full new object into the stored next version of ``old``."""
        new = dict(new)
        new["kind"], new["apiVersion"] = rt.kind, rt.api_version
        meta = dict(new.get("metadata") or {})
        old_meta = old["metadata"]
        if sub == "status":
            # Status writes change only status (and nothing of metadata but managedFields).
            new = {**old, "status": new.get("status")}
            meta = dict(old_meta)
        else:
            if "status" in rt.subresources and not sub:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            for key in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "namespace",
            ):
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            meta["name"] = old_meta["name"]
            if "managedFields" not in meta and "managedFields" in old_meta:
                meta["managedFields"] = old_meta["managedFields"]
            new["metadata"] = meta
            kinds.defaults(rt, new)
        self._default_custom(rt, new)
        meta.pop("selfLink", None)
        new["metadata"] = meta
        if rt.key == "/namespaces":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        if rt.key == "/services":
            spec = new.setdefault("spec", {})
            old_spec = old.get("spec") or {}
            if not spec.get("clusterIP") and old_spec.get("clusterIP"):
                spec["clusterIP"] = old_spec["clusterIP"]
            self._allocate(rt, new)
        if validate and sub != "status":
            causes = kinds.validate_update(rt, old, new)
            if causes:
                raise self._invalid(rt, meta["name"], causes)
            self._validate_view(rt, new, old)
        gen = old_meta.get("generation")
        if gen is not None:
            strip = ("metadata", "status", "kind", "apiVersion")
            if {k: v for k, v in old.items() if k not in strip} != {
                k: v for k, v in new.items() if k not in strip
            }:
                gen += 1
            meta["generation"] = gen
        if manager:
            apply.record_update(old, new, manager=manager, api_version=rt.api_version, now=now_iso(), sub=sub)
        if _comparable(old) == _comparable(new):
            return old
        if dry_run:
            return new
        if meta.get("deletionTimestamp"):
            had = bool(old_meta.get("finalizers")) or self._ns_finalizers(rt, old)
            if had and not meta.get("finalizers") and not self._ns_finalizers(rt, new):
                return self._remove(rt, new)
        self._put(rt, new)
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions" and self.on_crd:
            self.on_crd(new, "MODIFIED")
        return new

    @staticmethod
    def _default_custom(rt: resources.ResourceType, obj: dict[str, Any]) -> None:
        """Structural defaults of a custom resource's schema (what the CRD's version declares)."""
        schema = fieldvalidation.custom_schema(rt) if rt.is_custom else None
        if schema is not None:
            structural.default(obj, schema)

    @staticmethod
    def _ns_finalizers(rt: resources.ResourceType, obj: dict[str, Any]) -> bool:
        return rt.key == "/namespaces" and bool((obj.get("spec") or {}).get("finalizers"))

    def mutate(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        name: str,
        fn: Callable[[dict[str, Any]], Any],
        *,
        sub: str = "",
    ) -> dict[str, Any] | None:
        """Controllers' read-modify-write: ``fn`` edits the object in place (None when it is gone)."""
        cur = self.store.get(rt, self._ns(rt, ns), name)
        if cur is None:
            return None
        old = self._decode(rt, cur)
        new = self._decode(rt, cur)  # a second decode is cheaper than a deep copy
        if fn(new) is False:
            return old
        return self._commit(rt, cur, old, new, sub=sub, validate=False)

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
            applied = yaml.safe_load(raw)
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

    # -- delete ---------------------------------------------------------------------------------
    def delete(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        name: str,
        options: Any = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Delete per DeleteOptions; returns the object (with deletionTimestamp while finalizing)."""
        opts = options if isinstance(options, dict) else {}
        cur = self.get_obj(rt, ns, name)
        obj = self._decode(rt, cur)
        meta = obj["metadata"]
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise status.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if pre.get("resourceVersion") and str(pre["resourceVersion"]) != str(cur.rv):
            raise status.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {cur.rv}",
            )
        if rt.key == "/namespaces" and name in _UNDELETABLE_NS:
            raise status.forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted')
        policy = opts.get("propagationPolicy")
        if policy is None and opts.get("orphanDependents") is not None:
            policy = "Orphan" if opts["orphanDependents"] else "Background"
        finalizers = list(meta.get("finalizers") or [])
        if (
            policy == "Foreground"
            and "foregroundDeletion" not in finalizers
            and self.store.dependents.get(meta.get("uid", ""))
        ):
            finalizers.append("foregroundDeletion")
        if (
            policy == "Orphan"
            and "orphan" not in finalizers
            and self.store.dependents.get(meta.get("uid", ""))
        ):
            finalizers.append("orphan")
        grace = opts.get("gracePeriodSeconds")
        graceful = False
        if rt.key == "/pods" and (obj.get("spec") or {}).get("nodeName"):
            phase = (obj.get("status") or {}).get("phase")
            if grace is None:
                grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            graceful = grace > 0 and phase not in ("Succeeded", "Failed")
        if dry_run:
            return obj
        if meta.get("deletionTimestamp"):
            if graceful or finalizers or self._ns_finalizers(rt, obj):
                return obj  # already being deleted; nothing more to do
            return self._remove(rt, obj)
        if finalizers or graceful or rt.key == "/namespaces":
            new = copy.deepcopy(obj)
            new_meta = new["metadata"]
            new_meta["deletionTimestamp"] = now_iso()
            new_meta["deletionGracePeriodSeconds"] = int(grace or 0)
            if finalizers:
                new_meta["finalizers"] = finalizers
            if rt.key == "/namespaces":
                new.setdefault("status", {})["phase"] = "Terminating"
            if new_meta.get("generation") is not None and rt.has_generation:
                new_meta["generation"] += 1
            self._put(rt, new)
            return new
        return self._remove(rt, obj)

    def _remove(self, rt: resources.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        if rt.is_view:
            srt = self.storage(rt)
            self.store.remove(srt, meta.get("namespace", ""), meta["name"], views.from_view(rt, obj, srt))
        else:
            self.store.remove(rt, meta.get("namespace", ""), meta["name"], obj)
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions" and self.on_crd:
            self.on_crd(obj, "DELETED")
        return obj

    def finalize_namespace(self, name: str) -> dict[str, Any] | None:
        """What the namespace controller does once the namespace is empty."""
        rt = self.registry.builtin("", "namespaces")

        def drop(ns: dict[str, Any]) -> None:
            ns.setdefault("spec", {})["finalizers"] = []

        return self.mutate(rt, None, name, drop)
