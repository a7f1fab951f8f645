"""Whether a CRD schema is structural, as the apiextensions apiserver decides (``schema.ValidateStructural``).

A structural schema specifies a ``type`` for every node (except under ``x-kubernetes-int-or-string``
or ``x-kubernetes-preserve-unknown-fields``), keeps ``type``/``description``/``default``/extensions out
of ``allOf``/``anyOf``/``oneOf``/``not``, restricts ``metadata`` at the root to ``name`` and
``generateName``, and declares outside the value validations every field the value validations name.
``unsupported`` answers the conversion errors (``NewStructural``) that keep these checks from running.
The errors come back sorted by their text, as upstream sorts them.
"""

from __future__ import annotations

from typing import Any

from bcs.sim.kube import goregexp
from bcs.sim.kube.fielderr import Cause, forbidden, invalid, required

__all__ = ["errors", "has", "unsupported"]

Schema = dict[str, Any]
_ROOT, _ITEM, _FIELD = 0, 1, 2
# What a structural schema keeps of a node besides type, default and properties (example, externalDocs
# and the unsupported keywords are not kept).
_STRUCTURAL_KEYS = (
    "items",
    "description",
    "title",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
    "format",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
)
_META = ("metadata", "kind", "apiVersion")
_LIST_KEYS = ("required", "x-kubernetes-list-map-keys", "x-kubernetes-validations")
_NONEMPTY_KEYS = ("enum", "allOf", "anyOf", "oneOf", "properties", "patternProperties", "definitions")


def has(s: Schema, key: str) -> bool:
    """Whether ``key`` is set in the Go struct ``s`` decodes into (zero values count as unset)."""
    value = s.get(key)
    if value is None:
        return False
    if key in _NONEMPTY_KEYS:
        return bool(value)
    if key in _LIST_KEYS:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value != ""
    return True


def _type(s: Schema) -> str:
    t = s.get("type")
    return t if isinstance(t, str) else ""


def _dicts(s: Schema, key: str) -> list[Schema]:
    value = s.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def schema_map(s: Schema, key: str = "properties") -> dict[str, Schema]:
    """The schemas of ``s[key]`` (properties, definitions, ...) by name, in sorted order."""
    value = s.get(key)
    if not isinstance(value, dict):
        return {}
    return {k: value[k] for k in sorted(value) if isinstance(value[k], dict)}


def unsupported(s: Any) -> str:
    """The error ``NewStructural`` fails with ("" when the schema converts)."""
    if not isinstance(s, dict):
        return ""
    for key, word in (
        ("id", "id"),
        ("$schema", "schema"),
        ("$ref", "$ref"),
        ("patternProperties", "patternProperties"),
        ("dependencies", "dependencies"),
        ("additionalItems", "additionalItems"),
        ("definitions", "definitions"),
    ):
        value = s.get(key)
        if value is not None and (key == "additionalItems" or value not in ("", {}, [])):
            return f"OpenAPIV3Schema '{word}' is not supported"
    subs: list[Any] = [s.get("not"), *_dicts(s, "allOf"), *_dicts(s, "anyOf"), *_dicts(s, "oneOf")]
    for sub in subs:
        if err := unsupported(sub):
            return err
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        return "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined"
    items = s.get("items")
    if isinstance(items, list) and items:
        return "OpenAPIV3Schema 'items' must be a schema, but is an array"
    for sub in [items, *schema_map(s).values(), s.get("additionalProperties")]:
        if err := unsupported(sub):
            return err
    return ""


def _int_or_string_any_of(s: Schema) -> bool:
    """The ``anyOf: [{type: integer}, {type: string}]`` pattern ``x-kubernetes-int-or-string`` allows."""
    branches = s.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2:
        return False
    for branch, want in zip(branches, ("integer", "string"), strict=True):
        if not isinstance(branch, dict):
            return False
        rest = {k for k in branch if has(branch, k) or (k == "required" and branch[k] is not None)}
        if rest != {"type"} or branch["type"] != want:
            return False
    return True


def _value_validation(s: Schema, skip_any: bool, skip_first_all: bool, path: str, out: list[Cause]) -> None:
    if not skip_any:
        for i, sub in enumerate(_dicts(s, "anyOf")):
            _nested(sub, False, False, f"{path}.anyOf[{i}]", out)
    for i, sub in enumerate(_dicts(s, "allOf")):
        _nested(
            sub, skip_first_all and i == 0 and _int_or_string_any_of(sub), False, f"{path}.allOf[{i}]", out
        )
    for i, sub in enumerate(_dicts(s, "oneOf")):
        _nested(sub, False, False, f"{path}.oneOf[{i}]", out)
    if isinstance(s.get("not"), dict):
        _nested(s["not"], False, False, f"{path}.not", out)
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern and (err := goregexp.compile_error(pattern)):
        out.append(
            invalid(f"{path}.pattern", pattern, f"must be a valid regular expression, but isn't: {err}")
        )


_NESTED_FORBIDDEN = (
    ("default", "default", "must be undefined to be structural"),
    ("title", "title", "must be empty to be structural"),
    ("description", "description", "must be empty to be structural"),
    ("nullable", "nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "", "must be false to be structural"),
    ("x-kubernetes-list-type", "", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "", "must be undefined to be structural"),
)


def _nested(v: Schema, skip_any: bool, skip_first_all: bool, path: str, out: list[Cause]) -> None:
    """``validateNestedValueValidation``: what may not appear under a logical junctor."""
    _value_validation(v, skip_any, skip_first_all, path, out)
    if isinstance(v.get("items"), dict):
        _nested(v["items"], False, False, f"{path}.items", out)
    for k, sub in schema_map(v).items():
        _nested(sub, False, False, f"{path}.properties[{k}]", out)
    if _type(v):
        out.append(forbidden(f"{path}.type", "must be empty to be structural"))
    addl = v.get("additionalProperties")
    if isinstance(addl, dict) or addl is True:
        out.append(forbidden(f"{path}.additionalProperties", "must be undefined to be structural"))
    for key, name, detail in _NESTED_FORBIDDEN:
        if has(v, key):
            out.append(forbidden(f"{path}.{name or key}", detail))
    if v.get("x-kubernetes-list-map-keys"):
        out.append(forbidden(f"{path}.x-kubernetes-list-map-keys", "must be empty to be structural"))
    if v.get("x-kubernetes-validations"):
        out.append(forbidden(f"{path}.x-kubernetes-validations", "must be empty to be structural"))
    if "metadata" in schema_map(v):
        out.append(forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context"))


_LEVEL_DETAIL = {
    _ROOT: "must not be empty at the root",
    _ITEM: "must not be empty for specified array items",
    _FIELD: "must not be empty for specified object fields",
}


def _invariants(s: Schema, lvl: int, path: str, out: list[Cause]) -> None:
    t = _type(s)
    items = s.get("items")
    if t == "array" and items is None:
        out.append(required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        _invariants(items, _ITEM, f"{path}.items", out)
    props = schema_map(s)
    for k, sub in props.items():
        _invariants(sub, _FIELD, f"{path}.properties[{k}]", out)
    addl = s.get("additionalProperties")
    if addl is not None and not isinstance(addl, (bool, dict)):
        addl = None
    if addl is not None:
        if lvl == _ROOT:
            out.append(forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(addl, dict):
            _invariants(addl, _FIELD, f"{path}.additionalProperties", out)
    embedded, int_or_string = has(s, "x-kubernetes-embedded-resource"), has(s, "x-kubernetes-int-or-string")
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    if int_or_string and preserve:
        msg = "must be false if x-kubernetes-int-or-string is true"
        out.append(invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True, msg))
    if int_or_string and embedded:
        out.append(
            invalid(
                f"{path}.x-kubernetes-embedded-resource",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    all_of = _dicts(s, "allOf")
    _value_validation(s, _int_or_string_any_of(s), bool(all_of), path, out)
    if embedded and t != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        out.append(required(f"{path}.type", detail) if not t else invalid(f"{path}.type", t, detail))
    elif not t and not int_or_string and not preserve:
        out.append(required(f"{path}.type", _LEVEL_DETAIL[lvl]))
    if embedded and addl is not None:
        out.append(
            forbidden(
                f"{path}.additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"
            )
        )
    if lvl == _ROOT and t and t != "object":
        out.append(invalid(f"{path}.type", t, "must be object at the root"))
    check_meta = lvl == _ROOT or embedded
    for key in ("kind", "apiVersion"):
        if key in props and check_meta and _type(props[key]) != "string":
            out.append(invalid(f"{path}.properties[{key}].type", _type(props[key]), "must be string"))
    if "metadata" in props:
        _metadata(props["metadata"], check_meta, lvl, f"{path}.properties[metadata]", out)
    if embedded and not preserve and not props:
        detail = (
            "must not be empty if x-kubernetes-embedded-resource is true without "
            "x-kubernetes-preserve-unknown-fields"
        )
        out.append(required(f"{path}.properties", detail))


def _metadata(m: Schema, check: bool, lvl: int, path: str, out: list[Cause]) -> None:
    if check and _type(m) != "object":
        out.append(invalid(f"{path}.type", _type(m), "must be object"))
    if lvl != _ROOT:
        return
    rest = [k for k in _STRUCTURAL_KEYS if has(m, k)]
    named = set(schema_map(m))
    if not named <= {"name", "generateName"} or rest or m.get("additionalProperties") is not None:
        detail = "must not specify anything other than name and generateName, but metadata is implicitly "
        out.append(forbidden(path, detail + "specified"))


def _complete_nested(v: Any, s: Schema | None, s_path: str, v_path: str, out: list[Cause]) -> None:
    if not isinstance(v, dict):
        return
    if s is None:
        out.append(required(s_path, f"because it is defined in {v_path}"))
        return
    _complete_value(v, s, s_path, v_path, out)
    if isinstance(v.get("items"), dict):
        items = s.get("items") if isinstance(s.get("items"), dict) else None
        _complete_nested(v["items"], items, f"{s_path}.items", f"{v_path}.items", out)
    s_props = schema_map(s)
    for k, sub in schema_map(v).items():
        where = f"{v_path}.properties[{k}]"
        if k not in s_props:
            out.append(required(f"{s_path}.properties[{k}]", f"because it is defined in {where}"))
        else:
            _complete_nested(sub, s_props[k], f"{s_path}.properties[{k}]", where, out)


def _complete_value(v: Schema, s: Schema, s_path: str, v_path: str, out: list[Cause]) -> None:
    _complete_nested(v.get("not"), s, s_path, f"{v_path}.not", out)
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(_dicts(v, key)):
            _complete_nested(sub, s, s_path, f"{v_path}.{key}[{i}]", out)


def errors(schema: Schema, path: str) -> list[Cause]:
    """The structural errors of the ``openAPIV3Schema`` at ``path``, sorted by their text."""
    out: list[Cause] = []
    _invariants(schema, _ROOT, path, out)
    _complete_value(schema, schema, path, path, out)
    return sorted(out, key=lambda c: f"{c[1]}: {c[2]}")
