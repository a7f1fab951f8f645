"""Validation of a CRD's ``openAPIV3Schema`` (``validateCustomResourceDefinitionValidation``).

In order: the root rules when the status subresource is on (type ``object``; only some keywords),
``nullable`` at the root, structurality (``crdstructural``) and then the defaults (``crddefaults``),
and a walk of every node for what OpenAPI v3 in Kubernetes forbids: ``$ref``, ``id``, ``definitions``,
``patternProperties``, ``dependencies``, ``additionalItems``, ``uniqueItems: true``, ``type: null``,
array ``items``, ``additionalProperties`` beside ``properties``, unknown types, defaults in top-level
metadata, and the rules of the list/map extensions. ``x-kubernetes-validations`` rules are checked
for shape only: CEL is not compiled.
"""

from __future__ import annotations

from typing import Any

import attrs

from bcs.sim.kube import crddefaults, crdstructural, fieldpaths, gostruct
from bcs.sim.kube.crdstructural import has, schema_map
from bcs.sim.kube.fielderr import Cause, GoLiteral, forbidden, invalid, not_supported, required, strings

__all__ = ["validation_causes"]

Schema = dict[str, Any]
_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_META = ("apiVersion", "kind", "metadata")
_REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")
# The JSONSchemaProps fields (Go names, JSON names) allowed at the root when status is a subresource.
_ROOT_FIELDS = (
    ("ID", "id", False),
    ("Schema", "$schema", False),
    ("Ref", "$ref", False),
    ("Description", "description", True),
    ("Type", "type", True),
    ("Nullable", "nullable", False),
    ("Format", "format", True),
    ("Title", "title", True),
    ("Default", "default", False),
    ("Maximum", "maximum", True),
    ("ExclusiveMaximum", "exclusiveMaximum", True),
    ("Minimum", "minimum", True),
    ("ExclusiveMinimum", "exclusiveMinimum", True),
    ("MaxLength", "maxLength", True),
    ("MinLength", "minLength", True),
    ("Pattern", "pattern", True),
    ("MaxItems", "maxItems", True),
    ("MinItems", "minItems", True),
    ("UniqueItems", "uniqueItems", True),
    ("MultipleOf", "multipleOf", True),
    ("Enum", "enum", False),
    ("MaxProperties", "maxProperties", False),
    ("MinProperties", "minProperties", False),
    ("Required", "required", True),
    ("Items", "items", True),
    ("AllOf", "allOf", False),
    ("OneOf", "oneOf", False),
    ("AnyOf", "anyOf", False),
    ("Not", "not", False),
    ("Properties", "properties", True),
    ("AdditionalProperties", "additionalProperties", False),
    ("PatternProperties", "patternProperties", False),
    ("Dependencies", "dependencies", False),
    ("AdditionalItems", "additionalItems", False),
    ("Definitions", "definitions", False),
    ("ExternalDocs", "externalDocs", True),
    ("Example", "example", True),
    ("XPreserveUnknownFields", "x-kubernetes-preserve-unknown-fields", True),
    ("XEmbeddedResource", "x-kubernetes-embedded-resource", False),
    ("XIntOrString", "x-kubernetes-int-or-string", False),
    ("XListMapKeys", "x-kubernetes-list-map-keys", False),
    ("XListType", "x-kubernetes-list-type", False),
    ("XMapType", "x-kubernetes-map-type", False),
    ("XValidations", "x-kubernetes-validations", True),
)
_ALLOWED_AT_ROOT = "[" + " ".join(go for go, _, ok in _ROOT_FIELDS if ok) + "]"
_IF_STATUS = "if the status subresource is enabled"


@attrs.frozen
class _Ctx:
    """``specStandardValidatorV3``'s state: whether defaults are allowed (and why not), inside metadata."""

    defaults: bool = True
    reason: str = ""
    inside_meta: bool = False

    def no_defaults(self, reason: str) -> _Ctx:
        return attrs.evolve(self, defaults=False, reason=reason)


def _set(s: Schema, key: str) -> bool:
    """A key whose Go field is a pointer, map or slice: set when present (``{}``/``[]`` for maps too)."""
    value = s.get(key)
    return value is not None and value != {} and value != ""


def _node(s: Schema, path: str, ctx: _Ctx, out: list[Cause]) -> None:
    """``specStandardValidatorV3.validate``."""
    t = s.get("type")
    if isinstance(t, str) and t and t not in _TYPES:
        out.append(not_supported(f"{path}.type", t, _TYPES))
    if s.get("default") is not None and not ctx.defaults:
        out.append(forbidden(f"{path}.default", "must not be set" + (f" {ctx.reason}" if ctx.reason else "")))
    if has(s, "id"):
        out.append(forbidden(f"{path}.id", "id is not supported"))
    if s.get("additionalItems") is not None:
        out.append(forbidden(f"{path}.additionalItems", "additionalItems is not supported"))
    for key in ("patternProperties", "definitions"):
        if has(s, key):
            out.append(forbidden(f"{path}.{key}", f"{key} is not supported"))
    if s.get("dependencies") is not None:
        out.append(forbidden(f"{path}.dependencies", "dependencies is not supported"))
    if s.get("$ref") is not None:
        out.append(forbidden(f"{path}.$ref", "$ref is not supported"))
    if t == "null":
        out.append(forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative"))
    if isinstance(s.get("items"), list) and s["items"]:
        out.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if ctx.inside_meta and has(s, "x-kubernetes-embedded-resource"):
        out.append(
            forbidden(f"{path}.x-kubernetes-embedded-resource", "must not be used inside of resource meta")
        )


def _subschemas(s: Schema, key: str) -> list[tuple[int, Schema]]:
    value = s.get(key)
    return [(i, x) for i, x in enumerate(value) if isinstance(x, dict)] if isinstance(value, list) else []


def _walk(s: Schema, path: str, ctx: _Ctx, root: bool, out: list[Cause]) -> None:
    """``ValidateCustomResourceDefinitionOpenAPISchema`` (map keys in sorted order)."""
    _node(s, path, ctx, out)
    if s.get("uniqueItems") is True:
        msg = "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        out.append(forbidden(f"{path}.uniqueItems", msg))
    props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
    addl = s.get("additionalProperties")
    if addl is not None:
        if props and (addl is False or isinstance(addl, dict)):
            msg = "additionalProperties and properties are mutual exclusive"
            out.append(forbidden(f"{path}.additionalProperties", msg))
        if isinstance(addl, dict):
            sub = (
                ctx.no_defaults("inside additionalProperties applying to object metadata")
                if ctx.inside_meta
                else ctx
            )
            _walk(addl, f"{path}.additionalProperties", sub, False, out)
    embedded = has(s, "x-kubernetes-embedded-resource")
    for k, prop in schema_map(s).items():
        sub = ctx
        if (root or embedded) and k in _META:
            sub = attrs.evolve(sub, inside_meta=True)
            if root:
                sub = sub.no_defaults(f"in top-level {k}")
        _walk(prop, f"{path}.properties[{k}]", sub, False, out)
    if isinstance(s.get("not"), dict):
        _walk(s["not"], f"{path}.not", ctx, False, out)
    for key in ("allOf", "oneOf", "anyOf"):
        for i, sub_schema in _subschemas(s, key):
            _walk(sub_schema, f"{path}.{key}[{i}]", ctx, False, out)
    for k, definition in schema_map(s, "definitions").items():
        _walk(definition, f"{path}.definitions[{k}]", ctx, False, out)
    items = s.get("items")
    if isinstance(items, dict):
        _walk(items, f"{path}.items", ctx, False, out)
    elif isinstance(items, list):
        for i, item in _subschemas(s, "items"):
            _walk(item, f"{path}.items[{i}]", ctx, False, out)
    for k, dependency in schema_map(s, "dependencies").items():
        _walk(dependency, f"{path}.dependencies[{k}]", ctx, False, out)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        out.append(
            invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined")
        )
    _extensions(s, path, out)
    _validations(s, path, out)


def _must_be(s: Schema, path: str, want: str, detail: str) -> Cause:
    t = s.get("type") if isinstance(s.get("type"), str) else ""
    return required(f"{path}.type", detail) if not t else invalid(f"{path}.type", t, detail)


def _extensions(s: Schema, path: str, out: list[Cause]) -> None:
    t = s.get("type") if isinstance(s.get("type"), str) else ""
    map_type, list_type = s.get("x-kubernetes-map-type"), s.get("x-kubernetes-list-type")
    keys = (
        s.get("x-kubernetes-list-map-keys") if isinstance(s.get("x-kubernetes-list-map-keys"), list) else []
    )
    items = s.get("items")
    if map_type is not None and t != "object":
        out.append(_must_be(s, path, "object", "must be object if x-kubernetes-map-type is specified"))
    if map_type is not None and map_type not in ("atomic", "granular"):
        out.append(not_supported(f"{path}.x-kubernetes-map-type", map_type, ("atomic", "granular")))
    if list_type is not None and t != "array":
        out.append(_must_be(s, path, "array", "must be array if x-kubernetes-list-type is specified"))
    elif list_type == "set" and isinstance(items, dict):
        item_type, detail = (
            items.get("type"),
            "must be atomic as item of a list with x-kubernetes-list-type=set",
        )
        inner = items.get("x-kubernetes-list-type")
        if item_type == "array" and inner is not None and inner != "atomic":
            out.append(invalid(f"{path}.items.x-kubernetes-list-type", inner, detail))
        elif item_type == "object" and items.get("x-kubernetes-map-type") != "atomic":
            out.append(invalid(f"{path}.items.x-kubernetes-map-type", inner, detail))
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        out.append(not_supported(f"{path}.x-kubernetes-list-type", list_type, ("atomic", "set", "map")))
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            out.append(required(f"{path}.x-kubernetes-list-type", detail))
        elif list_type != "map":
            out.append(invalid(f"{path}.x-kubernetes-list-type", list_type, detail))
    if list_type == "map":
        _map_list(s, path, keys, out)
    if list_type in ("set", "map") and isinstance(items, dict):
        if items.get("nullable") is True:
            out.append(
                forbidden(
                    f"{path}.items.nullable", f"cannot be nullable when x-kubernetes-list-type is {list_type}"
                )
            )
        if list_type == "map":
            _map_keys_defaulted(items, path, keys, out)


def _map_list(s: Schema, path: str, keys: list[Any], out: list[Cause]) -> None:
    items = s.get("items")
    if not keys:
        out.append(
            required(
                f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"
            )
        )
    if items is None:
        out.append(required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map"))
        return
    if not isinstance(items, dict):
        detail = "must only have a single schema if x-kubernetes-list-type is map"
        out.append(invalid(f"{path}.items", GoLiteral(gostruct.schema_props_or_array(items)), detail))
        return
    item_type = items.get("type") if isinstance(items.get("type"), str) else ""
    if item_type != "object":
        detail = "must be object if parent array's x-kubernetes-list-type is map"
        out.append(invalid(f"{path}.items.type", item_type, detail))
        return
    props = items.get("properties") if isinstance(items.get("properties"), dict) else {}
    seen: set[str] = set()
    for k in keys:
        prop = props.get(k)
        if isinstance(prop, dict):
            if prop.get("type") in ("array", "object"):
                detail = "must be a scalar type if parent array's x-kubernetes-list-type is map"
                out.append(invalid(f"{path}.items.properties[{k}].type", item_type, detail))
        else:
            detail = "entries must all be names of item properties"
            out.append(invalid(f"{path}.x-kubernetes-list-map-keys", strings(keys), detail))
        if k in seen:
            detail = "must not contain duplicate entries"
            out.append(invalid(f"{path}.x-kubernetes-list-map-keys", strings(keys), detail))
        seen.add(k)


def _map_keys_defaulted(items: Schema, path: str, keys: list[Any], out: list[Cause]) -> None:
    props = items.get("properties") if isinstance(items.get("properties"), dict) else {}
    needed = items.get("required") if isinstance(items.get("required"), list) else []
    for k in keys:
        prop = props.get(k)
        if not isinstance(prop, dict):
            continue
        where = f"{path}.items.properties[{k}]"
        if k not in needed and prop.get("default") is None:
            detail = (
                "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required "
                "property"
            )
            out.append(required(f"{where}.default", detail))
        if prop.get("nullable") is True:
            detail = "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"
            out.append(forbidden(f"{where}.nullable", detail))


def _validations(s: Schema, path: str, out: list[Cause]) -> None:
    rules = s.get("x-kubernetes-validations")
    if not isinstance(rules, list):
        return
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        where = f"{path}.x-kubernetes-validations[{i}]"
        text, msg = str(rule.get("rule") or ""), str(rule.get("message") or "")
        expr, field_path = str(rule.get("messageExpression") or ""), str(rule.get("fieldPath") or "")
        if not text.strip():
            out.append(required(f"{where}.rule", "rule is not specified"))
        elif msg and not msg.strip():
            out.append(invalid(f"{where}.message", msg, "message must be non-empty if specified"))
        elif "\n" in msg.strip() or "\r" in msg.strip():
            out.append(invalid(f"{where}.message", msg, "message must not contain line breaks"))
        elif ("\n" in text.strip() or "\r" in text.strip()) and not msg.strip():
            out.append(required(f"{where}.message", "message must be specified if rule contains line breaks"))
        if expr and not expr.strip():
            out.append(
                required(f"{where}.messageExpression", "messageExpression must be non-empty if specified")
            )
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS:
            out.append(not_supported(f"{where}.reason", reason, _REASONS))
        if field_path and not field_path.strip():
            out.append(invalid(f"{where}.fieldPath", field_path, "fieldPath must be non-empty if specified"))
        if "\n" in field_path or "\r" in field_path:
            out.append(invalid(f"{where}.fieldPath", field_path, "fieldPath must not contain line breaks"))
        if field_path and fieldpaths.resolve(field_path, s)[1]:
            out.append(invalid(f"{where}.fieldPath", field_path, "fieldPath must be a valid path"))


def _status_root(schema: Schema, path: str, out: list[Cause]) -> None:
    for go, key, allowed in _ROOT_FIELDS:
        value = schema.get(key)
        if value is None or value is False or value == "":
            continue
        if go == "Type":
            if value != "object":
                detail = f'only "object" is allowed as the type at the root of the schema {_IF_STATUS}'
                out.append(invalid(f"{path}.openAPIV3Schema.type", value, detail))
                return
            continue
        if not allowed:
            detail = f"only {_ALLOWED_AT_ROOT} fields are allowed at the root of the schema {_IF_STATUS}"
            out.append(invalid(f"{path}.openAPIV3Schema", GoLiteral(gostruct.schema_props(schema)), detail))
            return


def validation_causes(validation: Any, status_enabled: bool, path: str) -> list[Cause]:
    """The errors of a ``CustomResourceValidation`` (``{openAPIV3Schema: …}``) found at ``path``."""
    if not isinstance(validation, dict):
        return []
    schema = validation.get("openAPIV3Schema")
    if not isinstance(schema, dict):
        return []
    out: list[Cause] = []
    if status_enabled:
        _status_root(schema, path, out)
    if schema.get("nullable") is True:
        out.append(forbidden(f"{path}.openAPIV3Schema.nullable", "nullable cannot be true at the root"))
    where = f"{path}.openAPIV3Schema"
    init_error = crdstructural.unsupported(schema)
    if not init_error:
        found = crdstructural.errors(schema, where)
        out += found or crddefaults.errors(schema, where)
    _walk(schema, where, _Ctx(), True, out)
    if not out and init_error:
        out.append(invalid(where, "", init_error))
    return out
