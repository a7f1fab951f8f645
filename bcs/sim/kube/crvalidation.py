"""What the apiextensions apiserver validates on custom resources besides their metadata (``kinds``).

On create and update: the CRD version's ``openAPIV3Schema`` (``schemavalidate``; updates ratchet), the
scale subresource's replica and selector paths, the ``apiVersion``/``kind`` of
``x-kubernetes-embedded-resource`` values, and the uniqueness of ``x-kubernetes-list-type: set|map``
items. On the status subresource: ``status`` against the schema's ``status`` property (no ratcheting),
the status replica/selector paths and the list types (unless the old object already broke them).
Schema errors become causes (reason, field, message) the way the apiserver converts kube-openapi's.
A write first runs its CRD version's compiled check (``Plan``); the full validator, which builds the
errors and ratchets updates, runs only when that check fails. ``x-kubernetes-validations`` (CEL) rules
are not evaluated.
"""

from __future__ import annotations

from typing import Any

import orjson

from bcs.sim.kube import fielderr, gofmt, resources, schemacompile, schemavalidate, structural

__all__ = ["Plan", "on_create", "on_status", "on_update", "plan", "schema_causes", "schema_of"]

Cause = tuple[str, str, str]
Schema = dict[str, Any]
_MAX_INT32 = 2**31 - 1


def schema_of(rt: resources.ResourceType) -> Schema | None:
    """The ``openAPIV3Schema`` of a custom resource version (None for built-in kinds)."""
    schema = ((rt.crd or {}).get("schema") or {}).get("openAPIV3Schema")
    return schema if isinstance(schema, dict) else None


class Plan:
    """A CRD version's schema prepared for writes: compiled validity checks of the object and of its
    status (``schemacompile``), its defaulting (``structural.defaulter``), and the schema nodes at or
    above list-type and embedded-resource declarations (walks skip the rest). Built on first use and
    kept in ``rt.crd``, which is rebuilt whenever the CRD is written: one plan per CRD version and
    resourceVersion."""

    __slots__ = ("default", "embedded", "lists", "ok", "schema", "status", "status_ok")

    def __init__(self, schema: Schema | None) -> None:
        self.schema = schema
        status = ((schema or {}).get("properties") or {}).get("status")
        self.status: Schema | None = status if isinstance(status, dict) else None
        self.ok = schemacompile.check(schema) if schema else None
        self.status_ok = schemacompile.check(self.status) if self.status else None
        self.lists = schemacompile.subtrees(
            schema, lambda n: n.get("x-kubernetes-list-type") in ("set", "map")
        )
        self.embedded = schemacompile.subtrees(
            schema, lambda n: bool(n.get("x-kubernetes-embedded-resource"))
        )
        self.default = structural.defaulter(schema)


def plan(rt: resources.ResourceType) -> Plan:
    """The write plan of a custom resource version."""
    crd = rt.crd if rt.crd is not None else {}
    found = crd.get("plan")
    if not isinstance(found, Plan):
        found = crd["plan"] = Plan(schema_of(rt))
    return found


def on_create(rt: resources.ResourceType, obj: dict[str, Any]) -> list[Cause]:
    p = plan(rt)
    schema = p.schema
    out = schema_causes(schemavalidate.validate(schema, obj)) if schema and p.ok and not p.ok(obj) else []
    out += _scale(rt, obj, spec=True) + _scale(rt, obj, spec=False)
    return out + _embedded("", obj, schema, p.embedded) + _list_types("", schema, obj, p.lists)


def on_update(rt: resources.ResourceType, old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    p = plan(rt)
    schema = p.schema
    out = []
    if schema and p.ok and not p.ok(new):  # ratcheting only matters when the new object has errors
        out = schema_causes(schemavalidate.validate(schema, new, old, ratchet=True))
    out += _scale(rt, new, spec=True) + _scale(rt, new, spec=False) + _embedded("", new, schema, p.embedded)
    return out + _list_types_ratcheted(p, old, new)


def on_status(rt: resources.ResourceType, old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    p = plan(rt)
    out = []
    if p.status is not None and p.status_ok and "status" in new and not p.status_ok(new["status"]):
        out = schema_causes(schemavalidate.validate(p.status, new["status"]), "status")
    out += _scale(rt, new, spec=False)
    return out + _list_types_ratcheted(p, old, new)


# -- schema errors as the apiserver's field errors ------------------------------------------------
def _json(x: Any) -> str:
    return orjson.dumps(x, option=orjson.OPT_SORT_KEYS).decode()


def schema_causes(errors: list[schemavalidate.Error], prefix: str = "") -> list[Cause]:
    """The 422 causes of validation errors; ``prefix`` is the field the validated value sits at."""
    out: list[Cause] = []
    root = prefix or "<nil>"
    for e in errors:
        if e.code == schemavalidate.COMPOSITE:
            out.append(("FieldValueInvalid", root, f'Invalid value: "": {e.message}'))
            continue
        name = e.name[1:] if e.name.startswith(".") else e.name
        field = (f"{prefix}.{name}" if prefix else name) if name else root
        if e.code == schemavalidate.REQUIRED:
            out.append(("FieldValueRequired", field, "Required value"))
        elif e.code == schemavalidate.ENUM:
            shown = ", ".join(gofmt.quote(v if isinstance(v, str) else _json(v)) for v in e.values)
            detail = f": supported values: {shown}" if shown else ""
            msg = f"Unsupported value: {gofmt.field_value(e.value)}{detail}"
            out.append(("FieldValueNotSupported", field, msg))
        elif e.code == schemavalidate.TOO_LONG:
            limit = e.valid if isinstance(e.valid, int) else -1
            detail = f"may not be more than {limit} bytes" if limit >= 0 else "value is too long"
            out.append(("FieldValueTooLong", field, f"Too long: {detail}"))
        elif e.code in (schemavalidate.MAX_ITEMS, schemavalidate.TOO_MANY_PROPS):
            msg = f"Too many: {e.value}: must have at most {e.valid} items"
            out.append(("FieldValueTooMany", field, msg))
        else:
            reason = "FieldValueTypeInvalid" if e.code == schemavalidate.TYPE else "FieldValueInvalid"
            value = "" if e.value is None else e.value
            out.append((reason, field, f"Invalid value: {gofmt.field_value(value)}: {e.message}"))
    return out


# -- the scale subresource's paths ------------------------------------------------------------------
def _go_type(x: Any) -> str:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int64"
    if isinstance(x, float):
        return "float64"
    if isinstance(x, str):
        return "string"
    if isinstance(x, dict):
        return "map[string]interface {}"
    if isinstance(x, list):
        return "[]interface {}"
    return "<nil>"


def _nested(obj: dict[str, Any], path: str, want: str) -> tuple[Any, str]:
    """``unstructured.Nested*``: (value or None when absent, accessor error)."""
    fields = (path[1:] if path.startswith(".") else path).split(".")
    cur: Any = obj
    for i, name in enumerate(fields):
        if cur is None:
            return None, ""
        if not isinstance(cur, dict):
            where = "." + ".".join(fields[: i + 1])
            got = f"{gofmt.v(cur)} is of the type {_go_type(cur)}"
            return None, f"{where} accessor error: {got}, expected map[string]interface{{}}"
        if name not in cur:
            return None, ""
        cur = cur[name]
    ok = isinstance(cur, str) if want == "string" else isinstance(cur, int) and not isinstance(cur, bool)
    if not ok:
        where = "." + ".".join(fields)
        return None, f"{where} accessor error: {gofmt.v(cur)} is of the type {_go_type(cur)}, expected {want}"
    return cur, ""


def _replicas(obj: dict[str, Any], path: Any) -> list[Cause]:
    if not isinstance(path, str) or not path:
        return []
    value, err = _nested(obj, path, "int64")
    if err:
        return [("FieldValueInvalid", path, f"Invalid value: 0: {err}")]
    if value is None:
        return []
    if value < 0:
        return [("FieldValueInvalid", path, f"Invalid value: {value}: should be a non-negative integer")]
    if value > _MAX_INT32:
        msg = f"Invalid value: {value}: should be less than or equal to {_MAX_INT32}"
        return [("FieldValueInvalid", path, msg)]
    return []


def _scale(rt: resources.ResourceType, obj: dict[str, Any], *, spec: bool) -> list[Cause]:
    scale = ((rt.crd or {}).get("subresources") or {}).get("scale")
    if not isinstance(scale, dict):
        return []
    if spec:
        return _replicas(obj, scale.get("specReplicasPath"))
    out = _replicas(obj, scale.get("statusReplicasPath"))
    selector = scale.get("labelSelectorPath")
    if isinstance(selector, str) and selector:
        _, err = _nested(obj, selector, "string")
        if err:
            out.append(("FieldValueInvalid", selector, f'Invalid value: "": {err}'))
    return out


# -- x-kubernetes-embedded-resource values ----------------------------------------------------------
def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _embedded(path: str, x: Any, s: Schema | None, rel: frozenset[int]) -> list[Cause]:
    """The type metadata of ``x-kubernetes-embedded-resource`` values (``rel``: the schema nodes at or
    above such declarations; the rest is not walked)."""
    if not isinstance(s, dict) or id(s) not in rel:
        return []
    out: list[Cause] = []
    if isinstance(x, dict):
        if s.get("x-kubernetes-embedded-resource"):
            out += _type_meta(path, x)
        props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
        addl = s.get("additionalProperties")
        for k, v in x.items():
            if k in props:
                out += _embedded(_child(path, k), v, props[k], rel)
            elif isinstance(addl, dict):
                out += _embedded(f"{path}[{k}]", v, addl, rel)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _embedded(f"{path}[{i}]", v, s.get("items"), rel)
    return out


def _type_meta(path: str, x: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for key in ("apiVersion", "kind"):
        if key not in x:
            out.append(("FieldValueRequired", _child(path, key), "Required value: must not be empty"))
    for key in ("apiVersion", "kind"):
        if key not in x:
            continue
        v, where = x[key], _child(path, key)
        if not isinstance(v, str):
            msg = f"Invalid value: {gofmt.field_value(v)}: must be a string"
            out.append(("FieldValueInvalid", where, msg))
        elif not v:
            out.append(("FieldValueInvalid", where, 'Invalid value: "": must not be empty'))
        elif key == "apiVersion" and v != "/" and v.count("/") > 1:
            msg = f"unexpected GroupVersion string: {v}"
            out.append(("FieldValueInvalid", where, f"Invalid value: {gofmt.quote(v)}: {msg}"))
        elif key == "kind":
            errs = fielderr.dns1035_label(v.lower())
            if errs:
                msg = "may have mixed case, but should otherwise match: " + ",".join(errs)
                out.append(("FieldValueInvalid", where, f"Invalid value: {gofmt.quote(v)}: {msg}"))
    return out


# -- x-kubernetes-list-type: set and map -------------------------------------------------------------
def _list_types_ratcheted(p: Plan, old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """The list-type errors of ``new``, unless ``old`` had some already (an update may keep them)."""
    if not p.lists:
        return []
    errs = _list_types("", p.schema, new, p.lists)
    return errs if errs and not _list_types("", p.schema, old, p.lists) else []


def _list_types(path: str, s: Schema | None, obj: Any, rel: frozenset[int]) -> list[Cause]:
    """Repeated items of ``x-kubernetes-list-type: set|map`` lists (``rel``: the schema nodes at or
    above such lists; the rest is not walked)."""
    if not isinstance(s, dict) or not isinstance(obj, dict) or id(s) not in rel:
        return []
    out: list[Cause] = []
    addl = s.get("additionalProperties")
    if isinstance(addl, dict) and id(addl) in rel:
        for k, v in obj.items():
            out += _list_types_of(f"{path}[{k}]", addl, v, rel)
    props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
    for k, v in obj.items():
        sub = props.get(k)
        if isinstance(sub, dict) and id(sub) in rel:
            out += _list_types_of(_child(path, k), sub, v, rel)
    return out


def _list_types_of(path: str, s: Schema, x: Any, rel: frozenset[int]) -> list[Cause]:
    if isinstance(x, dict):
        return _list_types(path, s, x, rel)
    if not isinstance(x, list):
        return []
    out: list[Cause] = []
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        out += [("FieldValueDuplicate", f"{path}[{i}]", _dup(x[i])) for i in _second_seen(x)]
    elif list_type == "map":
        out += _list_map(path, s, x)
    items = s.get("items")
    if isinstance(items, dict) and id(items) in rel:
        for i, item in enumerate(x):
            out += _list_types_of(f"{path}[{i}]", items, item, rel)
    return out


def _dup(value: Any) -> str:
    return f"Duplicate value: {gofmt.field_value(value)}"


def _identity(x: Any) -> Any:
    if isinstance(x, (dict, list)):
        return ("json", orjson.dumps(x, option=orjson.OPT_SORT_KEYS))
    return (type(x), x)


def _second_seen(items: list[Any]) -> list[int]:
    """Indices of the items that repeat an earlier one (each repeated value reported once)."""
    counts: dict[Any, int] = {}
    out = []
    for i, x in enumerate(items):
        ident = _identity(x)
        counts[ident] = counts.get(ident, 0) + 1
        if counts[ident] == 2:
            out.append(i)
    return out


def _list_map(path: str, s: Schema, items: list[Any]) -> list[Cause]:
    for i, x in enumerate(items):
        if x is not None and not isinstance(x, dict):
            msg = f"Invalid value: {gofmt.field_value(x)}: must be an object for an array of list-type map"
            return [("FieldValueInvalid", f"{path}[{i}]", msg)]
    keys = [k for k in s.get("x-kubernetes-list-map-keys") or [] if isinstance(k, str)]
    if len(items) <= 1 or not keys:
        return []
    if len(keys) == 1:  # the common case, all keys strings (or all ints) and distinct: nothing to report
        values = [x.get(keys[0]) if isinstance(x, dict) else None for x in items]
        kind = type(values[0])
        if kind in (str, int) and all(type(v) is kind for v in values) and len(set(values)) == len(values):
            return []
    shown = [{k: x[k] for k in keys if k in x} if isinstance(x, dict) else {} for x in items]
    if len(keys) == 1:
        ids: list[Any] = [("unset",) if keys[0] not in m else _identity(m[keys[0]]) for m in shown]
    else:
        ids = [_identity(m) for m in shown]
    seen: dict[Any, int] = {}
    out: list[Cause] = []
    for i, ident in enumerate(ids):
        seen[ident] = seen.get(ident, 0) + 1
        if seen[ident] == 2:
            out.append(("FieldValueDuplicate", f"{path}[{i}]", _dup(shown[i])))
    return out
