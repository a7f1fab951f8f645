"""Field paths as server-side apply (structured-merge-diff) prints them in its errors.

Fields are ``.name``; an item of an associative list is named by its keys, sorted, with Go-quoted
values (``[name="nginx"]``, ``[containerPort=80,protocol="TCP"]``); an item of a set by its value
(``[="a"]``); an item of an atomic list by its index (``[0]``). Built-in lists are keyed by their
strategic-merge keys (container and service ports also by ``protocol``, defaulted to TCP; topology
spread constraints also by ``whenUnsatisfiable``); custom resources' by their schema's
``x-kubernetes-list-type``/``x-kubernetes-list-map-keys``.
"""

from __future__ import annotations

from typing import Any

import orjson

from bcs.sim.kube import gofmt, patch

__all__ = ["from_dotted", "from_fields"]

Schema = dict[str, Any]
# Key fields the apply schema adds to a built-in list's merge key, with their defaults.
_EXTRA_KEYS = {"ports": {"protocol": "TCP"}, "topologySpreadConstraints": {"whenUnsatisfiable": None}}


def _scalar(v: Any) -> str:
    """structured-merge-diff's ``value.ToString`` of a key value."""
    if v is None:
        return "null"
    if isinstance(v, str):
        return gofmt.quote(v)
    if isinstance(v, list):
        return "[" + ",".join(_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "".join(f"{k}={_scalar(x)}" for k, x in v.items())
    return gofmt.v(v)


def _keyed(key: dict[str, Any]) -> str:
    return "[" + ",".join(f"{k}={_scalar(key[k])}" for k in sorted(key)) + "]"


def _builtin_keys(names: tuple[str, ...]) -> dict[str, Any]:
    """The key fields of a built-in list (with defaults for those an item may omit), or {}."""
    key = patch.merge_key(names)
    if key is None:
        return {}
    return {key: None, **_EXTRA_KEYS.get(names[-1], {})}


def _item(names: tuple[str, ...], schema: Schema | None, custom: bool, item: Any, index: int) -> str:
    if custom:
        list_type = (schema or {}).get("x-kubernetes-list-type")
        if list_type == "set" and not isinstance(item, (dict, list)):
            return f"[={_scalar(item)}]"
        fields = (schema or {}).get("x-kubernetes-list-map-keys") or []
        props = ((schema or {}).get("items") or {}).get("properties") or {}
        keys = {k: (props.get(k) or {}).get("default") for k in fields} if list_type == "map" else {}
    elif names and names[-1] == "finalizers" and isinstance(item, str):
        return f"[={_scalar(item)}]"
    else:
        keys = _builtin_keys(names)
    if not keys or not isinstance(item, dict):
        return f"[{index}]"
    found = {k: item.get(k, default) for k, default in keys.items()}
    if any(v is None for v in found.values()):
        return f"[{index}]"
    return _keyed(found)


def _field_at(cur: Any, path: str, pos: int) -> str:
    """The object key that the dotted path continues with at ``pos`` (map keys may hold dots)."""
    if isinstance(cur, dict):
        fits = [
            k
            for k in cur
            if isinstance(k, str)
            and path.startswith(k, pos)
            and path[pos + len(k) : pos + len(k) + 1] in ("", ".", "[")
        ]
        if fits:
            return max(fits, key=len)
    end = pos
    while end < len(path) and path[end] not in ".[":
        end += 1
    return path[pos:end]


def _child_schema(schema: Schema | None, field: str) -> Schema | None:
    if not isinstance(schema, dict):
        return None
    props = schema.get("properties") or {}
    if isinstance(props.get(field), dict):
        return props[field]
    addl = schema.get("additionalProperties")
    return addl if isinstance(addl, dict) else None


def from_dotted(obj: Any, path: str, schema: Schema | None = None, *, custom: bool = False) -> str:
    """SMD's form of a ``spec.containers[0].foo`` path into ``obj`` (``schema``: a custom resource's)."""
    out: list[str] = []
    cur, names, pos = obj, (), 0
    while pos < len(path):
        if path[pos] == "[":
            end = path.index("]", pos)
            index = int(path[pos + 1 : end])
            item = cur[index] if isinstance(cur, list) and 0 <= index < len(cur) else None
            out.append(_item(names, schema, custom, item, index))
            schema = schema.get("items") if isinstance(schema, dict) else None
            cur, pos = item, end + 1
            continue
        if path[pos] == ".":
            pos += 1
        field = _field_at(cur, path, pos)
        out.append("." + field)
        names = (*names, field)
        schema = _child_schema(schema, field)
        cur = cur.get(field) if isinstance(cur, dict) else None
        pos += len(field)
    return "".join(out)


def from_fields(path: tuple[str, ...], obj: Any = None) -> str:
    """SMD's form of a ``FieldsV1`` path (``f:``/``k:``/``v:`` segments), as conflict errors print it;
    the items of ``obj`` (the live object) supply key fields the path does not record."""
    out = ""
    names: tuple[str, ...] = ()
    cur = obj
    for seg in path:
        if seg.startswith("f:"):
            out += "." + seg[2:]
            names = (*names, seg[2:])
            cur = cur.get(seg[2:]) if isinstance(cur, dict) else None
        elif seg.startswith("k:"):
            key = orjson.loads(seg[2:])
            items = cur if isinstance(cur, list) else []
            cur = next((i for i in items if isinstance(i, dict) and key.items() <= i.items()), None)
            for k, default in (_EXTRA_KEYS.get(names[-1], {}) if names else {}).items():
                value = cur.get(k, default) if isinstance(cur, dict) else default
                if k not in key and value is not None:
                    key[k] = value
            out += _keyed(key)
        elif seg.startswith("v:"):
            out += f"[={_scalar(orjson.loads(seg[2:]))}]"
            cur = None
        else:
            out += f"[{seg}]"
            cur = None
    return out
