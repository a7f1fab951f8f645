"""CustomResourceDefinition defaulting and validation on create, update and ``/status``, as the 1.32
apiextensions apiserver does (``validation.ValidateCustomResourceDefinition[Update]``).

The apiserver validates the *internal* form of a v1 CRD: per-version ``schema``, ``subresources``,
``additionalPrinterColumns`` and ``selectableFields`` that are identical in every version are moved to
``spec.validation``, ``spec.subresources``, ``spec.additionalPrinterColumns`` and
``spec.selectableFields``, and the errors name those paths (a one-version CRD's schema errors are at
``spec.validation.openAPIV3Schema…``); differing ones stay at ``spec.versions[i]…``. The conversion
webhook's fields are named ``spec.conversion.webhookClientConfig`` and
``spec.conversion.conversionReviewVersions`` for the same reason.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

import orjson

from bcs.sim.kube import crdparts, crdschema, gostruct
from bcs.sim.kube.fielderr import (
    Cause,
    GoLiteral,
    dns1035_label,
    dns1123_subdomain,
    invalid,
    required,
    strings,
)

__all__ = ["defaults", "initial_status", "on_create", "on_status", "on_update", "stored_versions"]

_APPROVAL = "api-approved.kubernetes.io"
_PER_VERSION = ("schema", "subresources", "additionalPrinterColumns", "selectableFields")


def defaults(crd: dict[str, Any]) -> None:
    """``SetDefaults_CustomResourceDefinitionSpec``: singular, listKind, conversion, webhook port."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        kind = names.get("kind") or ""
        if not names.get("singular"):
            names["singular"] = str(kind).lower()
        if not names.get("listKind") and kind:
            names["listKind"] = f"{kind}List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    webhook = spec["conversion"].get("webhook") if isinstance(spec["conversion"], dict) else None
    client = webhook.get("clientConfig") if isinstance(webhook, dict) else None
    service = client.get("service") if isinstance(client, dict) else None
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443


def _storage_version(spec: dict[str, Any]) -> str | None:
    for v in _versions(spec):
        if v.get("storage") is True:
            return str(v.get("name") or "")
    return None


def initial_status(crd: dict[str, Any]) -> dict[str, Any]:
    """A created CRD's status: cleared, with the storage version as the only stored version."""
    storage = _storage_version(crd.get("spec") or {})
    return {"storedVersions": [storage]} if storage is not None else {}


def stored_versions(old: dict[str, Any] | None, spec: dict[str, Any]) -> list[str]:
    """``status.storedVersions`` after a write: the old ones plus the storage version."""
    stored = list(((old or {}).get("status") or {}).get("storedVersions") or [])
    storage = _storage_version(spec)
    if storage is not None and storage not in stored:
        stored.append(storage)
    return stored


# -- the internal form ------------------------------------------------------------------------------
def _versions(spec: dict[str, Any]) -> list[dict[str, Any]]:
    versions = spec.get("versions")
    return [v for v in versions if isinstance(v, dict)] if isinstance(versions, list) else []


def _canon(x: Any) -> bytes:
    """Semantic equality of decoded JSON: empty maps and lists equal absent ones inside."""

    def norm(y: Any) -> Any:
        if isinstance(y, dict):
            return {k: norm(v) for k, v in y.items() if v is not None and v != [] and v != {}}
        if isinstance(y, list):
            return [norm(v) for v in y]
        return y

    return orjson.dumps(norm(x), option=orjson.OPT_SORT_KEYS)


def _split(versions: list[dict[str, Any]], key: str) -> tuple[Any, list[Any]]:
    """(the top-level value, the per-version values) of ``key`` after v1 → internal conversion."""
    values = [v.get(key) for v in versions]
    if key in ("additionalPrinterColumns", "selectableFields"):
        values = [x or None for x in values]
    if values and all(_canon(x) == _canon(values[0]) for x in values):
        return values[0], [None] * len(values)
    return None, values


def _status_on(sub: Any) -> bool:
    return isinstance(sub, dict) and sub.get("status") is not None


def _has_defaults(s: Any) -> bool:
    if isinstance(s, dict):
        return s.get("default") is not None or any(_has_defaults(v) for k, v in s.items() if k != "default")
    if isinstance(s, list):
        return any(_has_defaults(v) for v in s)
    return False


# -- the checks -----------------------------------------------------------------------------------
def _names(names: Any, path: str) -> list[Cause]:
    """``ValidateCustomResourceDefinitionNames``."""
    names = names if isinstance(names, dict) else {}
    out: list[Cause] = []
    for key, mixed in (("plural", False), ("singular", False), ("kind", True), ("listKind", True)):
        value = str(names.get(key) or "")
        errs = dns1035_label(value.lower() if mixed else value) if value else []
        if errs:
            detail = ",".join(errs)
            out.append(
                invalid(
                    f"{path}.{key}",
                    value,
                    f"may have mixed case, but should otherwise match: {detail}" if mixed else detail,
                )
            )
    out += _labels(names.get("shortNames"), f"{path}.shortNames")
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        out.append(invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    out += _labels(names.get("categories"), f"{path}.categories")
    return out


def _labels(values: Any, path: str) -> list[Cause]:
    """Each of ``values`` must be a DNS-1035 label."""
    out = []
    for i, value in enumerate(values or []):
        if errs := dns1035_label(str(value)):
            out.append(invalid(f"{path}[{i}]", str(value), ",".join(errs)))
    return out


def _deprecation(v: dict[str, Any], path: str) -> list[Cause]:
    warning = v.get("deprecationWarning")
    if warning is None:
        return []
    where = f"{path}.deprecationWarning"
    if v.get("deprecated") is not True:
        return [invalid(where, warning, "can only be set for deprecated versions")]
    errs = ["must be <= 256 characters long"] if len(warning.encode()) > 256 else []
    if not warning:
        errs.append("must not be an empty string")
    for i, ch in enumerate(warning):
        if not ch.isprintable():
            errs.append(
                f"must only contain printable UTF-8 characters; non-printable character found at index {i}"
            )
            break
    return [invalid(where, warning, e) for e in errs]


def _selectable(fields: Any, validation: Any, path: str, missing: str) -> list[Cause]:
    if not fields:
        return []
    schema = validation.get("openAPIV3Schema") if isinstance(validation, dict) else None
    if not isinstance(schema, dict):
        return [invalid(path, "", missing)]
    return crdparts.selectable_fields(list(fields), schema, path)


def _spec(spec: dict[str, Any], *, recognized: bool) -> list[Cause]:
    """``validateCustomResourceDefinitionSpec``."""
    out: list[Cause] = []
    group = str(spec.get("group") or "")
    if not group:
        out.append(required("spec.group"))
    elif errs := dns1123_subdomain(group):
        out.append(invalid("spec.group", group, ",".join(errs)))
    elif "." not in group:
        out.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    out += crdparts.enum_string("spec.scope", spec.get("scope"), ("Cluster", "Namespaced"), need=True)
    versions = _versions(spec)
    split = {key: _split(versions, key) for key in _PER_VERSION}
    top_schema, per_schema = split["schema"]
    top_sub, per_sub = split["subresources"]
    top_cols, per_cols = split["additionalPrinterColumns"]
    top_fields, per_fields = split["selectableFields"]
    if not isinstance((top_schema or {}).get("openAPIV3Schema"), dict):
        for i in range(len(versions)):
            if not isinstance((per_schema[i] or {}).get("openAPIV3Schema"), dict):
                out.append(required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"))
    preserve = spec.get("preserveUnknownFields") is True
    if preserve and any(_has_defaults(v.get("schema")) for v in versions):
        out.append(
            invalid(
                "spec.preserveUnknownFields", True, "must be false in order to use defaults in the schema"
            )
        )
    per_version_sub = any(s is not None for s in per_sub)
    storage, names = 0, []
    for i, v in enumerate(versions):
        name = str(v.get("name") or "")
        storage += v.get("storage") is True
        names.append(name)
        where = f"spec.versions[{i}]"
        if errs := dns1035_label(name):
            out.append(invalid(f"{where}.name", name, ",".join(errs)))
        out += _deprecation(v, where)
        status_on = _status_on(per_sub[i] if per_version_sub else top_sub)
        out += crdschema.validation_causes(per_schema[i], status_on, f"{where}.schema")
        out += crdparts.subresources(per_sub[i], f"{where}.subresources")
        out += crdparts.columns(per_cols[i], f"{where}.additionalPrinterColumns")
        missing = "selectableFields may only be set when version.schema.openAPIV3Schema is not included"
        out += _selectable(per_fields[i], per_schema[i], f"{where}.selectableFields", missing)
    if len(set(names)) != len(names):
        out.append(
            invalid(
                "spec.versions",
                GoLiteral(gostruct.versions(spec.get("versions"))),
                "must contain unique version names",
            )
        )
    if storage != 1:
        detail = "must have exactly one version marked as storage version"
        out.append(invalid("spec.versions", GoLiteral(gostruct.versions(spec.get("versions"))), detail))
    if versions and (errs := dns1035_label(names[0])):
        out.append(invalid("spec.version", names[0], ",".join(errs)))
    names_spec = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    for key in ("plural", "singular", "kind", "listKind"):
        if not names_spec.get(key):
            out.append(required(f"spec.names.{key}"))
    out += _names(names_spec, "spec.names")
    any_status = _status_on(top_sub) or any(_status_on(s) for s in per_sub)
    out += crdschema.validation_causes(top_schema, any_status, "spec.validation")
    out += crdparts.subresources(top_sub, "spec.subresources")
    out += crdparts.columns(top_cols, "spec.additionalPrinterColumns")
    missing = "selectableFields may only be set when validations.schema is included"
    out += _selectable(top_fields, top_schema, "spec.selectableFields", missing)
    conv = spec.get("conversion") if isinstance(spec.get("conversion"), dict) else None
    if conv and conv.get("strategy") != "None" and preserve:
        detail = "must be None if spec.preserveUnknownFields is true"
        out.append(invalid("spec.conversion.strategy", conv.get("strategy"), detail))
    return out + crdparts.conversion(conv, "spec.conversion", recognized=recognized)


def _stored(stored: list[str], spec: dict[str, Any]) -> list[Cause]:
    """``ValidateCustomResourceDefinitionStoredVersions``."""
    if not stored:
        return [
            invalid("status.storedVersions", strings(stored or None), "must have at least one stored version")
        ]
    out: list[Cause] = []
    remaining = {v: i for i, v in enumerate(stored)}
    for v in _versions(spec):
        name = v.get("name")
        if v.get("storage") is True and name not in remaining:
            out.append(
                invalid("status.storedVersions", strings(stored), f"must have the storage version {name}")
            )
        remaining.pop(name, None)
    return out + [
        invalid(f"status.storedVersions[{i}]", v, "must appear in spec.versions")
        for v, i in sorted(remaining.items(), key=lambda kv: kv[1])
    ]


def _approval_state(annotations: Any) -> tuple[str, str]:
    value = str((annotations or {}).get(_APPROVAL) or "")
    see = "see https://github.com/kubernetes/enhancements/pull/1111"
    if not value:
        return "missing", f'protected groups must have approval annotation "{_APPROVAL}", {see}'
    if value.startswith("unapproved"):
        return "bypassed", ""
    try:
        u = urllib.parse.urlsplit(value)
    except ValueError:
        u = None
    if u is not None and u.scheme and u.netloc.rpartition("@")[2]:
        return "approved", ""
    return "invalid", (
        f'protected groups must have approval annotation "{_APPROVAL}" with either a URL or a reason '
        f'starting with "unapproved", {see}'
    )


def _approval(new: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    group = str((new.get("spec") or {}).get("group") or "")
    protected = group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))
    if not protected:
        return []
    state, reason = _approval_state((new.get("metadata") or {}).get("annotations"))
    if old is not None and _approval_state((old.get("metadata") or {}).get("annotations"))[0] == state:
        return []
    where = f"metadata.annotations[{_APPROVAL}]"
    if state == "missing":
        return [required(where, reason)]
    if state == "invalid":
        return [invalid(where, (new.get("metadata") or {}).get("annotations", {}).get(_APPROVAL), reason)]
    return []


def _name(crd: dict[str, Any]) -> list[Cause]:
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    name = str((crd.get("metadata") or {}).get("name") or "")
    plural = str((spec.get("names") or {}).get("plural") or "")
    errs = dns1123_subdomain(name)
    if name != f"{plural}.{spec.get('group') or ''}":
        errs.append('must be spec.names.plural+"."+spec.group')
    return [invalid("metadata.name", name, e) for e in errs]


def _preserve_unknown(new: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    if old is not None and (old.get("spec") or {}).get("preserveUnknownFields") is True:
        return []
    if (new.get("spec") or {}).get("preserveUnknownFields") is True:
        detail = (
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema "
            "instead"
        )
        return [invalid("spec.preserveUnknownFields", True, detail)]
    return []


def on_create(crd: dict[str, Any], meta: Sequence[Cause] = ()) -> list[Cause]:
    """The causes of a 422 for creating ``crd`` (already defaulted), with ``meta``, the other causes
    of its metadata, after those of its name."""
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    out = _name(crd) + list(meta) + _spec(spec, recognized=True)
    out += _stored(stored_versions(None, spec), spec)
    return out + _approval(crd, None) + _preserve_unknown(crd, None)


def _established(crd: dict[str, Any]) -> bool:
    conds = (crd.get("status") or {}).get("conditions") or []
    return any(
        isinstance(c, dict) and c.get("type") == "Established" and c.get("status") == "True" for c in conds
    )


def _immutable(path: str, new: Any, old: Any) -> list[Cause]:
    return [] if new == old else [invalid(path, new if new is not None else "", "field is immutable")]


def on_update(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """The causes of a 422 for replacing ``old`` by ``new`` (status already carried over)."""
    spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
    old_spec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    old_conv = old_spec.get("conversion") if isinstance(old_spec.get("conversion"), dict) else None
    old_review = ((old_conv or {}).get("webhook") or {}).get("conversionReviewVersions") or []
    recognized = not old_review or bool({"v1", "v1beta1"} & set(old_review))
    out = _spec(spec, recognized=recognized)
    names, old_names = spec.get("names") or {}, old_spec.get("names") or {}
    if _established(old):
        out += _immutable("spec.scope", spec.get("scope"), old_spec.get("scope"))
        out += _immutable("spec.names.kind", names.get("kind"), old_names.get("kind"))
    out += _immutable("spec.group", spec.get("group"), old_spec.get("group"))
    out += _immutable("spec.names.plural", names.get("plural"), old_names.get("plural"))
    out += _names((new.get("status") or {}).get("acceptedNames"), "status.acceptedNames")
    out += _stored(stored_versions(new, spec), spec)
    return out + _approval(new, old) + _preserve_unknown(new, old)


def on_status(new: dict[str, Any]) -> list[Cause]:
    """The causes of a 422 for a ``/status`` write: the accepted names."""
    return _names((new.get("status") or {}).get("acceptedNames"), "status.acceptedNames")
