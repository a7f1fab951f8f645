"""Per-kind defaulting and validation, the parts of the apiserver's strategies clients notice.

``defaults`` fills what the real defaulters fill (so ``-o yaml`` looks familiar), ``validate``
returns the causes of a 422 as (reason, field, message) triples.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from bcs.sim.kube import crdspec, fielderr, resources, selectors

__all__ = ["Cause", "defaults", "initial_status", "pod_defaults", "qos_class", "validate", "validate_update"]

Cause = tuple[str, str, str]
_CRDS = "apiextensions.k8s.io/customresourcedefinitions"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _go_map(d: dict[str, Any] | None) -> str:
    items = ", ".join(f'"{k}":"{v}"' for k, v in sorted((d or {}).items()))
    return "map[string]string{" + items + "}"


def pod_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            image = str(c.get("image", ""))
            tag = image.rsplit("/", 1)[-1]
            latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
            c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})
            for p in c.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")


def _template_defaults(spec: dict[str, Any]) -> None:
    tmpl = spec.setdefault("template", {})
    if isinstance(tmpl, dict):
        tmpl.setdefault("metadata", {})
        pod_defaults(tmpl.setdefault("spec", {}))


def defaults(rt: resources.ResourceType, obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    key = rt.key
    if key == "/pods":
        spec = obj.setdefault("spec", {})
        pod_defaults(spec)
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = spec["serviceAccount"] = sa
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif key == "/namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif key == "/services" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
    elif key == "/secrets":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        data = obj.setdefault("data", {}) if string_data else obj.get("data")
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    elif key == "apps/deployments" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _template_defaults(spec)
    elif key == "apps/replicasets" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _template_defaults(spec)
    elif key == "apps/statefulsets" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if us.get("type") == "RollingUpdate":
            us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        _template_defaults(spec)
    elif key == _CRDS:
        crdspec.defaults(obj)
        if isinstance(obj.get("status"), dict):
            obj["status"]["storedVersions"] = crdspec.stored_versions(obj, obj.get("spec") or {})
    elif key == "apps/daemonsets" and isinstance(spec, dict):
        us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if us.get("type") == "RollingUpdate":
            ru = us.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        _template_defaults(spec)


def qos_class(spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    reqs = [(c.get("resources") or {}) for c in containers if isinstance(c, dict)]
    if not any(r.get("requests") or r.get("limits") for r in reqs):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(res) is not None
        and (r.get("requests") or {}).get(res, (r.get("limits") or {}).get(res))
        == (r.get("limits") or {})[res]
        for r in reqs
        for res in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def initial_status(rt: resources.ResourceType, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The status a freshly created object starts with (None: keep what the client sent)."""
    if rt.key == "/pods":
        return {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
    if rt.key == "/namespaces":
        return {"phase": "Active"}
    if rt.key == _CRDS:
        return crdspec.initial_status(obj)
    if rt.key == "/services":
        return {"loadBalancer": {}}
    if rt.key in ("apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets"):
        return {"replicas": 0} if rt.key == "apps/statefulsets" else {}
    return None


def _name_causes(rt: resources.ResourceType, name: str) -> list[Cause]:
    """``ValidateObjectMeta``'s name check: one cause per reason the name is refused."""
    if rt.key in ("/events", "events.k8s.io/events") or rt.key == "/nodes":
        return []
    if rt.key == "/namespaces":
        errs = fielderr.dns1123_label(name)
    elif rt.key == "/services":
        errs = fielderr.dns1035_label(name)
    else:
        errs = fielderr.dns1123_subdomain(name)
    return [fielderr.invalid("metadata.name", name, e) for e in errs]


def _meta_causes(meta: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for value in (meta.get("labels") or {}).values():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                (
                    "FieldValueInvalid",
                    "metadata.labels",
                    f'Invalid value: "{value}": a valid label '
                    "must be an empty string or consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
    for key, value in (meta.get("annotations") or {}).items():
        if not isinstance(value, str):
            causes.append(
                ("FieldValueInvalid", f"metadata.annotations.{key}", "Invalid value: must be a string")
            )
    return causes


def _pod_spec_causes(spec: Any, prefix: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [("FieldValueRequired", prefix, "Required value")]
    containers = spec.get("containers")
    if not containers:
        return [("FieldValueRequired", f"{prefix}.containers", "Required value")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for n, c in enumerate(containers):
        where = f"{prefix}.containers[{n}]"
        name = c.get("name") if isinstance(c, dict) else None
        if not name:
            causes.append(("FieldValueRequired", f"{where}.name", "Required value"))
        elif name in seen:
            causes.append(("FieldValueDuplicate", f"{where}.name", f'Duplicate value: "{name}"'))
        seen.add(name or "")
        if isinstance(c, dict) and not c.get("image"):
            causes.append(("FieldValueRequired", f"{where}.image", "Required value"))
    return causes


def _workload_causes(rt: resources.ResourceType, spec: Any) -> list[Cause]:
    if not isinstance(spec, dict):
        return [("FieldValueRequired", "spec", "Required value")]
    causes: list[Cause] = []
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.replicas",
                f"Invalid value: {replicas}: must be greater than or equal to 0",
            )
        )
    sel = spec.get("selector")
    tmpl = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
    else:
        try:
            reqs = selectors.from_label_selector(sel) or ()
        except Exception:
            reqs = None
        if reqs is None or not selectors.matches(reqs, labels):
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.template.metadata.labels",
                    f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
                )
            )
    causes += _pod_spec_causes(tmpl.get("spec"), "spec.template.spec")
    return causes


def validate(rt: resources.ResourceType, obj: dict[str, Any]) -> list[Cause]:
    meta = obj.get("metadata") or {}
    if rt.key == _CRDS:
        return crdspec.on_create(obj, _meta_causes(meta))
    causes = _name_causes(rt, meta.get("name", "")) + _meta_causes(meta)
    key = rt.key
    if key == "/pods":
        causes += _pod_spec_causes(obj.get("spec"), "spec")
    elif key in ("apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets"):
        causes += _workload_causes(rt, obj.get("spec"))
    elif key == "/services":
        spec = obj.get("spec") or {}
        if spec.get("type") != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
            causes.append(("FieldValueRequired", "spec.ports", "Required value"))
        for n, p in enumerate(spec.get("ports") or []):
            port = p.get("port") if isinstance(p, dict) else None
            if not isinstance(port, int) or not 0 < port < 65536:
                causes.append(
                    (
                        "FieldValueInvalid",
                        f"spec.ports[{n}].port",
                        f"Invalid value: {port}: must be between 1 and 65535, inclusive",
                    )
                )
    elif key == "/secrets":
        for k, v in (obj.get("data") or {}).items():
            try:
                base64.b64decode(str(v), validate=True)
            except (binascii.Error, ValueError):
                causes.append(("FieldValueInvalid", f"data[{k}]", "Invalid value: illegal base64 data"))
    elif key == "/configmaps":
        for k, v in (obj.get("data") or {}).items():
            if not isinstance(v, str):
                causes.append(("FieldValueInvalid", f"data[{k}]", "Invalid value: must be a string"))
    return causes


_POD_MUTABLE = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _pod_spec_shape(spec: dict[str, Any]) -> bytes:
    spec = dict(spec)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "nodeName"):
        spec.pop(key, None)
    for key in ("containers", "initContainers"):
        spec[key] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get(key) or []]
    return orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)


def validate_update(rt: resources.ResourceType, old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    key = rt.key
    if key == _CRDS:
        return _meta_causes(new.get("metadata") or {}) + crdspec.on_update(old, new)
    causes = validate(rt, new)
    if key == "/pods":
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if (
            old_spec.get("nodeName") and new_spec.get("nodeName") != old_spec.get("nodeName")
        ) or _pod_spec_shape(old_spec) != _pod_spec_shape(new_spec):
            causes.append(
                (
                    "FieldValueForbidden",
                    "spec",
                    f"Forbidden: pod updates may not change fields other than {_POD_MUTABLE}",
                )
            )
    elif key in ("apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets"):
        old_sel = (old.get("spec") or {}).get("selector")
        new_sel = (new.get("spec") or {}).get("selector")
        if old_sel != new_sel:
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.selector",
                    f"Invalid value: {orjson.dumps(new_sel).decode()}: field is immutable",
                )
            )
    elif key == "/services":
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if old_ip and new_ip and old_ip != new_ip:
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.clusterIPs[0]",
                    f'Invalid value: []string{{"{new_ip}"}}: may not change once set',
                )
            )
    return causes
