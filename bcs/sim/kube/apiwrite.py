"""Create, update (and the controllers' read-modify-write), delete: the apiserver's write semantics."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from bcs.sim.kube import (
    apply,
    crdspec,
    crvalidation,
    fieldvalidation,
    kinds,
    resources,
    status,
    store,
    views,
)
from bcs.sim.kube.apibase import ApiBase, now_iso

__all__ = ["WriteApi"]

_UNDELETABLE_NS = {"default", "kube-system", "kube-public"}
_CRDS = "apiextensions.k8s.io/customresourcedefinitions"


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object minus what changes on every write anyway (resourceVersion, managedFields times)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("resourceVersion", None)
    if meta.get("managedFields"):
        meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in meta["managedFields"]]
    out["metadata"] = meta
    return out


class WriteApi(ApiBase):
    """Create, update, the controllers' read-modify-write, and delete with finalizers and grace."""

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
        if rt.is_custom:
            if "status" in rt.subresources:
                obj.pop("status", None)  # dropped before validation: a create cannot set it
            causes += crvalidation.on_create(rt, obj)
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
        if rt.key == _CRDS and self.on_crd:
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
            # Status writes change only status (and nothing of metadata but managedFields); a custom
            # resource's status sent as nothing is removed.
            if rt.is_custom and "status" not in new:
                new = {k: v for k, v in old.items() if k != "status"}
            else:
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
            if rt.is_custom:
                causes += crvalidation.on_update(rt, old, new)
            if causes:
                raise self._invalid(rt, meta["name"], causes)
            self._validate_view(rt, new, old)
        elif validate and (rt.is_custom or rt.key == _CRDS):
            causes = crvalidation.on_status(rt, old, new) if rt.is_custom else crdspec.on_status(new)
            if causes:
                raise self._invalid(rt, meta["name"], causes)
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
        if rt.key == _CRDS and self.on_crd:
            self.on_crd(new, "MODIFIED")
        return new

    @staticmethod
    def _default_custom(rt: resources.ResourceType, obj: dict[str, Any]) -> None:
        """Structural defaults of a custom resource's schema (what the CRD's version declares)."""
        if rt.is_custom and fieldvalidation.custom_schema(rt) is not None:
            fill = crvalidation.plan(rt).default
            if fill is not None:
                fill(obj)

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
        if rt.key == _CRDS and self.on_crd:
            self.on_crd(obj, "DELETED")
        return obj

    def finalize_namespace(self, name: str) -> dict[str, Any] | None:
        """What the namespace controller does once the namespace is empty."""
        rt = self.registry.builtin("", "namespaces")

        def drop(ns: dict[str, Any]) -> None:
            ns.setdefault("spec", {})["finalizers"] = []

        return self.mutate(rt, None, name, drop)
