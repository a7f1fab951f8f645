"""``%#v`` of the internal apiextensions types a few CRD field errors print as their bad value.

``field.Invalid(path, spec.Versions, "must have exactly one version marked as storage version")``
prints the whole ``[]apiextensions.CustomResourceDefinitionVersion``; the status subresource's root
rule prints the root ``JSONSchemaProps``. The JSON given is the v1 form; it is read into the internal
struct's fields in Go's declaration order. Pointers print as ``(*T)(0xc…)``: the address is made up
(the real one differs on every request anyway).
"""

from __future__ import annotations

import itertools
from typing import Any

from bcs.sim.kube import gofmt

__all__ = ["schema_props", "schema_props_or_array", "versions"]

_P = "apiextensions."
_addresses = itertools.count(0xC000100000, 0x30)

# Go field name, JSON name, kind. Kinds: s string, b bool, i int number, p:T pointer to T (printed as
# an address), ps/pf/pi/pb pointer to string/float64/int64/bool, sl:T slice of T, m:T map of T,
# strs []string, json interface{} (pointer), rules the ValidationRules slice.
_SCHEMA = (
    ("ID", "id", "s"),
    ("Schema", "$schema", "s"),
    ("Ref", "$ref", "ps"),
    ("Description", "description", "s"),
    ("Type", "type", "s"),
    ("Nullable", "nullable", "b"),
    ("Format", "format", "s"),
    ("Title", "title", "s"),
    ("Default", "default", "p:JSON"),
    ("Maximum", "maximum", "pf"),
    ("ExclusiveMaximum", "exclusiveMaximum", "b"),
    ("Minimum", "minimum", "pf"),
    ("ExclusiveMinimum", "exclusiveMinimum", "b"),
    ("MaxLength", "maxLength", "pi"),
    ("MinLength", "minLength", "pi"),
    ("Pattern", "pattern", "s"),
    ("MaxItems", "maxItems", "pi"),
    ("MinItems", "minItems", "pi"),
    ("UniqueItems", "uniqueItems", "b"),
    ("MultipleOf", "multipleOf", "pf"),
    ("Enum", "enum", "sl:JSON"),
    ("MaxProperties", "maxProperties", "pi"),
    ("MinProperties", "minProperties", "pi"),
    ("Required", "required", "strs"),
    ("Items", "items", "p:JSONSchemaPropsOrArray"),
    ("AllOf", "allOf", "sl:JSONSchemaProps"),
    ("OneOf", "oneOf", "sl:JSONSchemaProps"),
    ("AnyOf", "anyOf", "sl:JSONSchemaProps"),
    ("Not", "not", "p:JSONSchemaProps"),
    ("Properties", "properties", "m:JSONSchemaProps"),
    ("AdditionalProperties", "additionalProperties", "p:JSONSchemaPropsOrBool"),
    ("PatternProperties", "patternProperties", "m:JSONSchemaProps"),
    ("Dependencies", "dependencies", "named:JSONSchemaDependencies"),
    ("AdditionalItems", "additionalItems", "p:JSONSchemaPropsOrBool"),
    ("Definitions", "definitions", "named:JSONSchemaDefinitions"),
    ("ExternalDocs", "externalDocs", "p:ExternalDocumentation"),
    ("Example", "example", "p:JSON"),
    ("XPreserveUnknownFields", "x-kubernetes-preserve-unknown-fields", "pb"),
    ("XEmbeddedResource", "x-kubernetes-embedded-resource", "b"),
    ("XIntOrString", "x-kubernetes-int-or-string", "b"),
    ("XListMapKeys", "x-kubernetes-list-map-keys", "strs"),
    ("XListType", "x-kubernetes-list-type", "ps"),
    ("XMapType", "x-kubernetes-map-type", "ps"),
    ("XValidations", "x-kubernetes-validations", "rules"),
)
_RULE = (
    ("Rule", "rule", "s"),
    ("Message", "message", "s"),
    ("MessageExpression", "messageExpression", "s"),
    ("Reason", "reason", "p:FieldValueErrorReason"),
    ("FieldPath", "fieldPath", "s"),
    ("OptionalOldSelf", "optionalOldSelf", "pb"),
)
_COLUMN = (
    ("Name", "name", "s"),
    ("Type", "type", "s"),
    ("Format", "format", "s"),
    ("Description", "description", "s"),
    ("Priority", "priority", "i"),
    ("JSONPath", "jsonPath", "s"),
)
_VERSION = (
    ("Name", "name", "s"),
    ("Served", "served", "b"),
    ("Storage", "storage", "b"),
    ("Deprecated", "deprecated", "b"),
    ("DeprecationWarning", "deprecationWarning", "ps"),
    ("Schema", "schema", "p:CustomResourceValidation"),
    ("Subresources", "subresources", "p:CustomResourceSubresources"),
    ("AdditionalPrinterColumns", "additionalPrinterColumns", "sl:CustomResourceColumnDefinition"),
    ("SelectableFields", "selectableFields", "sl:SelectableField"),
)
_SELECTABLE = (("JSONPath", "jsonPath", "s"),)
_STRUCTS = {
    "JSONSchemaProps": _SCHEMA,
    "ValidationRule": _RULE,
    "CustomResourceColumnDefinition": _COLUMN,
    "CustomResourceDefinitionVersion": _VERSION,
    "SelectableField": _SELECTABLE,
}
_BUILTIN_POINTERS = {"ps": "string", "pf": "float64", "pi": "int64", "pb": "bool"}


def _address(type_name: str) -> str:
    return f"({type_name})(0x{next(_addresses):x})"


def _elem(type_name: str, value: Any) -> str:
    if type_name == "JSON":
        return "interface {}(nil)" if value is None else gofmt.sharp_v(value)
    return _struct(type_name, value if isinstance(value, dict) else {})


def _slice(go_type: str, elem: str, value: Any) -> str:
    if value is None:
        return f"{go_type}(nil)"
    return go_type + "{" + ", ".join(_elem(elem, x) for x in value) + "}"


def _map(go_type: str, elem: str, value: Any) -> str:
    if value is None:
        return f"{go_type}(nil)"
    return go_type + "{" + ", ".join(f"{gofmt.quote(k)}:{_elem(elem, value[k])}" for k in sorted(value)) + "}"


def _dependency(value: Any) -> str:
    schema = _address(f"*{_P}JSONSchemaProps") if isinstance(value, dict) else f"(*{_P}JSONSchemaProps)(nil)"
    strs = _field("strs", value if isinstance(value, list) else None)
    return f"{_P}JSONSchemaPropsOrStringArray{{Schema:{schema}, Property:{strs}}}"


def _field(kind: str, value: Any) -> str:
    if kind == "s":
        return gofmt.quote(value if isinstance(value, str) else "")
    if kind == "b":
        return "true" if value is True else "false"
    if kind == "i":
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"
    if kind in _BUILTIN_POINTERS:
        star = "*" + _BUILTIN_POINTERS[kind]
        return f"({star})(nil)" if value is None else _address(star)
    if kind == "strs":
        if value is None:
            return "[]string(nil)"
        return "[]string{" + ", ".join(gofmt.quote(str(s)) for s in value) + "}"
    name = kind.split(":", 1)[1] if ":" in kind else ""
    if kind.startswith("p:"):
        return f"(*{_P}{name})(nil)" if value is None else _address(f"*{_P}{name}")
    if kind.startswith("sl:"):
        return _slice(f"[]{_P}{name}", name, value)
    if kind.startswith("m:"):
        return _map(f"map[string]{_P}{name}", name, value)
    if kind == "rules":
        return _slice(f"{_P}ValidationRules", "ValidationRule", value)
    if kind == "named:JSONSchemaDefinitions":
        return _map(f"{_P}JSONSchemaDefinitions", "JSONSchemaProps", value)
    go_type = f"{_P}JSONSchemaDependencies"
    if value is None:
        return f"{go_type}(nil)"
    return go_type + "{" + ", ".join(f"{gofmt.quote(k)}:{_dependency(value[k])}" for k in sorted(value)) + "}"


def _struct(type_name: str, obj: dict[str, Any]) -> str:
    fields = ", ".join(f"{go}:{_field(kind, obj.get(js))}" for go, js, kind in _STRUCTS[type_name])
    return f"{_P}{type_name}{{{fields}}}"


def versions(items: Any) -> str:
    """``%#v`` of ``spec.Versions`` (None: the nil slice)."""
    version = "CustomResourceDefinitionVersion"
    return _slice(f"[]{_P}{version}", version, items if isinstance(items, list) else None)


def schema_props(schema: dict[str, Any]) -> str:
    """``%#v`` of a ``JSONSchemaProps`` value."""
    return _struct("JSONSchemaProps", schema)


def schema_props_or_array(items: Any) -> str:
    """``%#v`` of the ``*JSONSchemaPropsOrArray`` an ``items`` holds (dereferenced)."""
    schema = _address(f"*{_P}JSONSchemaProps") if isinstance(items, dict) else f"(*{_P}JSONSchemaProps)(nil)"
    array = _field("sl:JSONSchemaProps", items if isinstance(items, list) else None)
    return f"{_P}JSONSchemaPropsOrArray{{Schema:{schema}, JSONSchemas:{array}}}"
