"""OpenAPI v3 documents: the index kubectl reads for field validation and ``kubectl explain``.

Schemas of built-in kinds are derived from the generated model classes of ``kubernetes_asyncio``
(types, descriptions, required fields all come from the upstream OpenAPI those classes were
generated from); custom resources use their CRD's ``openAPIV3Schema``. Every PATCH operation carries
``x-kubernetes-group-version-kind`` and a ``fieldValidation`` parameter, which is what makes kubectl
choose server-side validation. Strategic merge is deliberately not advertised in request bodies
(the schemas lack patch merge keys), so kubectl falls back to its compiled-in types for that.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
from typing import Any

import orjson

from bcs.sim.kube import resources, typeschema

__all__ = ["document", "index", "schema_name"]

_META = {
    "ObjectMeta",
    "ListMeta",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ManagedFieldsEntry",
    "OwnerReference",
    "Status",
    "StatusDetails",
    "StatusCause",
    "Condition",
    "DeleteOptions",
    "Preconditions",
    "APIResource",
}
_APPS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "RollingUpdate", "ControllerRevision")
_APIEXT = (
    "CustomResource",
    "JSONSchemaProps",
    "ExternalDocumentation",
    "WebhookClientConfig",
    "WebhookConversion",
    "ValidationRule",
    "SelectableField",
)
_PREFIX = re.compile(r"^(CoreV1|EventsV1|V\d+(?:alpha\d+|beta\d+)?)(.+)$")
_REQUIRED = re.compile(r"Invalid value for `(\w+)`, must not be `None`")
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")


def schema_name(cls_name: str) -> str:
    """``V1PodSpec`` -> ``io.k8s.api.core.v1.PodSpec`` (the upstream component name)."""
    m = _PREFIX.match(cls_name)
    if not m:
        return cls_name
    prefix, kind = m.groups()
    version = prefix.lower().replace("corev1", "v1").replace("eventsv1", "v1")
    if kind in _META:
        return f"io.k8s.apimachinery.pkg.apis.meta.v1.{kind}"
    if prefix == "EventsV1":
        return f"io.k8s.api.events.v1.{kind}"
    if kind.startswith(_APPS):
        return f"io.k8s.api.apps.{version}.{kind}"
    if kind.startswith(_APIEXT):
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}"
    if kind.startswith("APIService"):
        return f"io.k8s.kube-aggregator.pkg.apis.apiregistration.{version}.{kind}"
    return f"io.k8s.api.core.{version}.{kind}"


def _models() -> Any:
    from kubernetes_asyncio.client import models  # heavy import: only when a schema is asked for

    return models


def _description(doc: str | None) -> str:
    if not doc:
        return ""
    lines = [ln.replace("# noqa: E501", "").strip() for ln in doc.splitlines()[1:]]
    text = []
    for ln in lines:
        if ln.startswith((":return:", ":rtype:")):
            break
        text.append(ln)
    return " ".join(t for t in text if t).strip()


def _type(spec: str, out: dict[str, Any]) -> dict[str, Any]:
    if spec.startswith("list["):
        return {"type": "array", "items": _type(spec[5:-1], out)}
    if spec.startswith("dict("):
        inner = spec[5:-1].split(",", 1)[1].strip()
        return {"type": "object", "additionalProperties": _type(inner, out)}
    simple = {
        "str": {"type": "string"},
        "int": {"type": "integer", "format": "int32"},
        "bool": {"type": "boolean"},
        "float": {"type": "number", "format": "double"},
        "datetime": {"type": "string", "format": "date-time"},
        "date": {"type": "string", "format": "date"},
        "object": {"type": "object"},
    }
    if spec in simple:
        return dict(simple[spec])
    _collect(spec, out)
    return {"allOf": [{"$ref": f"#/components/schemas/{schema_name(spec)}"}], "default": {}}


def _collect(cls_name: str, out: dict[str, Any]) -> None:
    name = schema_name(cls_name)
    if name in out:
        return
    cls = getattr(_models(), cls_name, None)
    if cls is None:
        out[name] = {"type": "object"}
        return
    # Model classes carry no type description (only their fields do), so none is invented here.
    out[name] = schema = {"type": "object", "properties": {}}
    try:
        required_py = set(_REQUIRED.findall(inspect.getsource(cls)))
    except (OSError, TypeError):
        required_py = set()
    known = _known_fields(name)
    for attr, typ in cls.openapi_types.items():
        wire = cls.attribute_map[attr]
        if known is not None and wire not in known:
            continue  # a field newer than the Kubernetes version the simulator is
        prop = _type(typ, out)
        desc = _description(getattr(getattr(cls, attr, None), "__doc__", None))
        if desc:
            prop["description"] = desc
        schema["properties"][wire] = prop
    required = sorted(cls.attribute_map[a] for a in required_py if a in cls.attribute_map)
    if required:
        schema["required"] = required


_SECTIONS = {
    "io.k8s.api.core.v1": "core",
    "io.k8s.api.apps.v1": "apps",
    "io.k8s.api.events.v1": "events",
    "io.k8s.api.coordination.v1": "coord",
    "io.k8s.api.autoscaling.v1": "autoscaling",
    "io.k8s.apimachinery.pkg.apis.meta.v1": "meta",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1": "apiext",
    "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1": "apireg",
}


def _known_fields(name: str) -> set[str] | None:
    """The JSON fields Kubernetes 1.32 gives a schema (None when ``typeschema`` does not know it)."""
    package, _, short = name.rpartition(".")
    msg = typeschema.MESSAGES.get(f"{_SECTIONS.get(package)}.{short}")
    return set(msg.by_json) if msg is not None else None


def _gvk(rt: resources.ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _op(
    rt: resources.ResourceType, action: str, op_id: str, *, kind: dict[str, str] | None = None
) -> dict[str, Any]:
    params = [{"name": "pretty", "in": "query", "schema": {"type": "string", "uniqueItems": True}}]
    if action in ("post", "put", "patch"):
        params += [
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        ]
    if action == "patch":
        params.append({"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}})
    op: dict[str, Any] = {
        "operationId": op_id,
        "tags": [rt.group or "core"],
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": kind or _gvk(rt),
    }
    if action == "patch":
        op["requestBody"] = {
            "content": {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES},
            "required": True,
        }
    return op


def _paths(rt: resources.ResourceType) -> dict[str, Any]:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else "/api/v1"
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    coll, item = f"{base}{ns}/{rt.plural}", f"{base}{ns}/{rt.plural}/{{name}}"
    tag = rt.kind
    paths: dict[str, Any] = {
        coll: {
            "get": _op(rt, "list", f"list{tag}"),
            "post": _op(rt, "post", f"create{tag}"),
            "delete": _op(rt, "deletecollection", f"deleteCollection{tag}"),
        },
        item: {
            "get": _op(rt, "get", f"read{tag}"),
            "put": _op(rt, "put", f"replace{tag}"),
            "patch": _op(rt, "patch", f"patch{tag}"),
            "delete": _op(rt, "delete", f"delete{tag}"),
        },
    }
    if rt.namespaced:
        paths[f"{base}/{rt.plural}"] = {"get": _op(rt, "list", f"list{tag}ForAllNamespaces")}
    for sub in rt.subresources:
        if sub in ("status", "scale"):
            kind = {"group": "autoscaling", "version": "v1", "kind": "Scale"} if sub == "scale" else None
            paths[f"{item}/{sub}"] = {
                "get": _op(rt, "get", f"read{tag}{sub.title()}", kind=kind),
                "put": _op(rt, "put", f"replace{tag}{sub.title()}", kind=kind),
                "patch": _op(rt, "patch", f"patch{tag}{sub.title()}", kind=kind),
            }
    return paths


@functools.cache
def _builtin_schemas(models: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in models:
        _collect(m, out)
    return out


def _custom_schema(rt: resources.ResourceType) -> dict[str, Any]:
    schema = dict(((rt.crd or {}).get("schema") or {}).get("openAPIV3Schema") or {"type": "object"})
    props = dict(schema.get("properties") or {})
    props.setdefault(
        "apiVersion",
        {
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation of an object.",
        },
    )
    props.setdefault(
        "kind",
        {
            "type": "string",
            "description": "Kind is a string value representing the REST resource this object represents.",
        },
    )
    props["metadata"] = {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    }
    schema["properties"] = props
    return schema


def document(reg: resources.Registry, group: str, version: str) -> dict[str, Any] | None:
    types = reg.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    for rt in types:
        paths.update(_paths(rt))
    models = tuple(sorted(rt.model for rt in types if rt.model and not rt.is_custom))
    schemas = dict(_builtin_schemas((*models, "V1ObjectMeta", "V1Status", "V1DeleteOptions")))
    for rt in types:
        if rt.is_custom:
            name = f"{'.'.join(reversed(rt.group.split('.')))}.{rt.version}.{rt.kind}"
            schemas[name] = _custom_schema(rt)
            schemas[name]["x-kubernetes-group-version-kind"] = [_gvk(rt)]
        elif rt.model:
            name = schema_name(rt.model)
            schemas[name] = {**schemas[name], "x-kubernetes-group-version-kind": [_gvk(rt)]}
    title = "Kubernetes"
    return {
        "openapi": "3.0.0",
        "info": {"title": title, "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def encoded(reg: resources.Registry, group: str, version: str) -> tuple[bytes, str] | None:
    """The document's bytes and its content hash (cached while the served set is unchanged)."""
    cache = reg.cache
    key = ("openapi", group, version, reg.generation)
    if key not in cache:
        doc = document(reg, group, version)
        if doc is None:
            return None
        blob = orjson.dumps(doc)
        cache[key] = (blob, hashlib.sha512(blob).hexdigest().upper()[:64])
    return cache[key]


def index(reg: resources.Registry) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for group, versions in reg.group_versions().items():
        for v in versions:
            enc = encoded(reg, group, v)
            if enc is None:
                continue
            rel = f"apis/{group}/{v}" if group else f"api/{v}"
            paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={enc[1]}"}
    return {"paths": paths}
