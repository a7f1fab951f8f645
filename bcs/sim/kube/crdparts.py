"""The per-version parts of a CRD besides its schema, validated as the apiextensions apiserver does:
subresources (the scale paths), printer columns, selectable fields, and ``spec.conversion``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from bcs.sim.kube import fieldpaths
from bcs.sim.kube.fielderr import (
    Cause,
    dns1035_label,
    dns1123_subdomain,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    strings,
    too_many,
)

__all__ = ["columns", "conversion", "enum_string", "selectable_fields", "subresources"]

_COLUMN_TYPES = "boolean,date,integer,number,string"
_COLUMN_FORMATS = "byte,date,date-time,double,float,int32,int64,password"
_MAX_SELECTABLE = 8
_URL_FORM = "; desired format: https://host[/path]"


def enum_string(path: str, value: Any, accepted: tuple[str, ...], *, need: bool) -> list[Cause]:
    """``validateEnumStrings``."""
    if not value:
        return [required(path)] if need else []
    return [] if value in accepted else [not_supported(path, value, accepted)]


def simple_json_path(path: str, value: str) -> list[Cause]:
    """``validateSimpleJSONPath``: a path in dot notation starting with ``.``."""
    if not value:
        return [invalid(path, value, "must not be empty")]
    if not value.startswith("."):
        return [invalid(path, value, "must be a simple json path starting with .")]
    return []


def _replicas_path(path: str, value: Any, under: str) -> list[Cause]:
    if not isinstance(value, str) or not value:
        return [required(path)]
    return simple_json_path(path, value) or (
        []
        if value.startswith(f".{under}.")
        else [invalid(path, value, f"should be a json path under .{under}")]
    )


def subresources(sub: Any, path: str) -> list[Cause]:
    """``ValidateCustomResourceDefinitionSubresources``."""
    if not isinstance(sub, dict) or not isinstance(sub.get("scale"), dict):
        return []
    scale = sub["scale"]
    out = _replicas_path(f"{path}.scale.specReplicasPath", scale.get("specReplicasPath"), "spec")
    out += _replicas_path(f"{path}.scale.statusReplicasPath", scale.get("statusReplicasPath"), "status")
    selector = scale.get("labelSelectorPath")
    if isinstance(selector, str) and selector:
        where = f"{path}.scale.labelSelectorPath"
        errs = simple_json_path(where, selector)
        if not errs and not selector.startswith((".spec.", ".status.")):
            errs = [invalid(where, selector, "should be a json path under either .spec or .status")]
        out += errs
    return out


def columns(cols: Any, path: str) -> list[Cause]:
    """``ValidateCustomResourceColumnDefinition`` of each column."""
    out: list[Cause] = []
    for i, col in enumerate(cols if isinstance(cols, list) else []):
        if not isinstance(col, dict):
            continue
        where = f"{path}[{i}]"
        if not col.get("name"):
            out.append(required(f"{where}.name"))
        kind = col.get("type")
        if not kind:
            out.append(required(f"{where}.type", f"must be one of {_COLUMN_TYPES}"))
        elif kind not in _COLUMN_TYPES.split(","):
            out.append(invalid(f"{where}.type", kind, f"must be one of {_COLUMN_TYPES}"))
        fmt = col.get("format")
        if fmt and fmt not in _COLUMN_FORMATS.split(","):
            out.append(invalid(f"{where}.format", fmt, f"must be one of {_COLUMN_FORMATS}"))
        json_path = col.get("jsonPath")
        if not json_path:
            out.append(required(f"{where}.JSONPath"))
        else:
            out += simple_json_path(f"{where}.JSONPath", json_path)
    return out


def selectable_fields(fields: list[Any], schema: dict[str, Any], path: str) -> list[Cause]:
    """``ValidateCustomResourceSelectableFields`` against the version's schema."""
    out: list[Cause] = []
    seen: list[str] = []
    for i, item in enumerate(fields):
        where = f"{path}[{i}].jsonPath"
        json_path = item.get("jsonPath") if isinstance(item, dict) else None
        if not json_path:
            out.append(required(where))
            continue
        found, err, shown = fieldpaths.resolve(json_path, schema, arrays=False)
        if err:
            out.append(invalid(where, json_path, f"is an invalid path: {err}"))
            continue
        if shown.split(".", 1)[0].split("[", 1)[0] == "metadata":
            out.append(invalid(where, json_path, "must not point to fields in metadata"))
        if not isinstance(found, dict) or found.get("type") not in ("string", "boolean", "integer"):
            detail = (
                "must point to a field of type string, boolean or integer. Enum string fields and strings "
                "with formats are allowed."
            )
            out.append(invalid(where, json_path, detail))
        if shown in seen:
            out.append(duplicate(where, json_path))
        else:
            seen.append(shown)
    if len(seen) > _MAX_SELECTABLE:
        out.append(too_many(path, len(seen), _MAX_SELECTABLE))
    return out


def _webhook_url(path: str, url: str) -> list[Cause]:
    """``webhook.ValidateWebhookURL`` with https forced."""
    try:
        u = urllib.parse.urlsplit(url)
    except ValueError as exc:
        return [required(path, f"url must be a valid URL: {exc}{_URL_FORM}")]
    out: list[Cause] = []
    if u.scheme != "https":
        out.append(invalid(path, u.scheme, "'https' is the only allowed URL scheme" + _URL_FORM))
    host = u.netloc.rpartition("@")[2]
    if not host:
        out.append(invalid(path, host, "host must be provided" + _URL_FORM))
    if "@" in u.netloc:
        out.append(invalid(path, u.netloc.rpartition("@")[0], "user information is not permitted in the URL"))
    if u.fragment:
        out.append(invalid(path, u.fragment, "fragments are not permitted in the URL"))
    if u.query:
        out.append(invalid(path, u.query, "query parameters are not permitted in the URL"))
    return out


def _webhook_service(path: str, svc: dict[str, Any]) -> list[Cause]:
    """``webhook.ValidateWebhookService``, called (as upstream does) with name and namespace swapped."""
    namespace, name = str(svc.get("name") or ""), str(svc.get("namespace") or "")
    out: list[Cause] = []
    if not name:
        out.append(required(f"{path}.name", "service name is required"))
    if not namespace:
        out.append(required(f"{path}.namespace", "service namespace is required"))
    port = svc.get("port", 443)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        out.append(invalid(f"{path}.port", port, "port is not valid: must be between 1 and 65535, inclusive"))
    url_path = svc.get("path")
    if not isinstance(url_path, str) or url_path in ("", "/"):
        return out
    where = f"{path}.path"
    if url_path == "//":
        return [*out, invalid(where, url_path, "segment[0] may not be empty")]
    if not url_path.startswith("/"):
        out.append(invalid(where, url_path, "must start with a '/'"))
    check = url_path[1:]
    check = check[:-1] if check.endswith("/") else check
    for i, step in enumerate(check.split("/")):
        if not step:
            out.append(invalid(where, url_path, f"segment[{i}] may not be empty"))
            continue
        out += [invalid(where, url_path, f"segment[{i}]: {e}") for e in dns1123_subdomain(step)]
    return out


def _review_versions(versions: Any, path: str, *, recognized: bool) -> list[Cause]:
    if not isinstance(versions, list) or not versions:
        return [required(path)]
    out: list[Cause] = []
    seen: set[str] = set()
    for i, v in enumerate(versions):
        v = str(v)
        if v in seen:
            out.append(invalid(f"{path}[{i}]", v, "duplicate version"))
            continue
        seen.add(v)
        out += [invalid(f"{path}[{i}]", v, e) for e in dns1035_label(v)]
    if recognized and not seen & {"v1", "v1beta1"}:
        out.append(
            invalid(path, strings([str(v) for v in versions]), "must include at least one of v1, v1beta1")
        )
    return out


def conversion(conv: Any, path: str, *, recognized: bool = True) -> list[Cause]:
    """``validateCustomResourceConversion`` of the v1 ``spec.conversion`` (errors name the internal
    fields ``webhookClientConfig`` and ``conversionReviewVersions``, as on the real server)."""
    if not isinstance(conv, dict):
        return []
    strategy = conv.get("strategy") or ""
    out = enum_string(f"{path}.strategy", strategy, ("None", "Webhook"), need=True)
    webhook = conv.get("webhook") if isinstance(conv.get("webhook"), dict) else {}
    client = webhook.get("clientConfig")
    review = webhook.get("conversionReviewVersions")
    if strategy == "Webhook":
        where = f"{path}.webhookClientConfig"
        if not isinstance(client, dict):
            out.append(required(where, "required when strategy is set to Webhook"))
        elif (client.get("url") is None) == (client.get("service") is None):
            out.append(required(where, "exactly one of url or service is required"))
        elif client.get("url") is not None:
            out += _webhook_url(f"{where}.url", str(client["url"]))
        elif isinstance(client.get("service"), dict):
            out += _webhook_service(f"{where}.service", client["service"])
        out += _review_versions(review, f"{path}.conversionReviewVersions", recognized=recognized)
        return out
    if client is not None:
        out.append(
            forbidden(f"{path}.webhookClientConfig", "should not be set when strategy is not set to Webhook")
        )
    if review:
        out.append(
            forbidden(
                f"{path}.conversionReviewVersions", "should not be set when strategy is not set to Webhook"
            )
        )
    return out
