"""The three PATCH flavours: JSON merge (RFC 7386), JSON patch (RFC 6902) and strategic merge.

Strategic merge uses the merge keys and strategies of the built-in core/apps types (the
``patchMergeKey``/``patchStrategy`` tags of their Go definitions), chosen by the field's path, and
understands the ``$patch``, ``$retainKeys``, ``$setElementOrder/`` and ``$deleteFromPrimitiveList/``
directives kubectl sends.
"""

from __future__ import annotations

import copy
from typing import Any

from bcs.sim.kube import status

__all__ = ["json_patch", "merge_key", "merge_patch", "strategic_merge"]

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# List fields merged by key; the value is the merge key.
_KEYED = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "secrets": "name",
    "topologySpreadConstraints": "topologyKey",
}
# Lists of scalars whose strategy is "merge" (set union) rather than replace.
_PRIMITIVE_MERGE = {"finalizers"}


def merge_key(path: tuple[str, ...]) -> str | None:
    """The merge key of the list at ``path`` (dict keys only), or None for an atomic list."""
    name = path[-1] if path else ""
    if name == "ports":
        if any(p in _CONTAINER_LISTS for p in path):
            return "containerPort"
        if "subsets" in path:
            return None
        return "port"
    if name == "addresses":
        return "type" if path[-2:] == ("status", "addresses") else None
    if name == "conditions" and "subsets" in path:
        return None
    if name == "secrets" and path != ("secrets",):
        return None
    return _KEYED.get(name)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: dicts merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _patch_error(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _patch_error(message: str) -> status.ApiError:
    return status.ApiError(422, "Invalid", message)


def _parent(doc: Any, parts: list[str], op: str) -> tuple[Any, str]:
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise _patch_error(f"{op} operation does not apply: doc is missing path: /{'/'.join(parts)}")
    return cur, parts[-1]


def _get(doc: Any, parts: list[str], op: str) -> Any:
    if not parts:
        return doc
    parent, last = _parent(doc, parts, op)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _patch_error(f"{op} operation does not apply: doc is missing path: /{'/'.join(parts)}")


def _remove(doc: Any, parts: list[str], op: str) -> Any:
    parent, last = _parent(doc, parts, op)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _patch_error(f"{op} operation does not apply: doc is missing path: /{'/'.join(parts)}")


def _add(doc: Any, parts: list[str], value: Any, op: str) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts, op)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _patch_error(f"{op} operation does not apply: index out of range: /{'/'.join(parts)}")
    else:
        raise _patch_error(f"{op} operation does not apply: doc is missing path: /{'/'.join(parts)}")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 on a copy of ``doc``."""
    if not isinstance(ops, list):
        raise status.bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise status.bad_request(f"invalid json patch operation: {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), kind)
        elif kind == "remove":
            _remove(doc, parts, kind)
        elif kind == "replace":
            _get(doc, parts, kind)
            if not parts:
                doc = copy.deepcopy(op.get("value"))
            else:
                parent, last = _parent(doc, parts, kind)
                parent[int(last) if isinstance(parent, list) else last] = copy.deepcopy(op.get("value"))
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = _remove(doc, src, kind) if kind == "move" else copy.deepcopy(_get(doc, src, kind))
            doc = _add(doc, parts, value, kind)
        elif kind == "test":
            if _get(doc, parts, kind) != op.get("value"):
                raise _patch_error(f"testing value /{'/'.join(parts)} failed: test failed")
        else:
            raise status.bad_request(f"unexpected json patch operation {kind!r}")
    return doc


_DELETE = object()


def strategic_merge(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a strategic merge patch to a copy of ``original``."""
    if not isinstance(patch, dict):
        raise status.bad_request("strategic merge patch must be a JSON object")
    result = _merge_map(copy.deepcopy(original), patch, ())
    return {} if result is _DELETE else result


def _merge_map(orig: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _strip(patch)
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(orig.get(field), list):
                orig[field] = [v for v in orig[field] if v not in value]
            continue
        if value is None:
            orig.pop(key, None)
            continue
        sub = (*path, key)
        cur = orig.get(key)
        if isinstance(value, dict):
            merged = _merge_map(cur if isinstance(cur, dict) else {}, value, sub)
            if merged is _DELETE:
                orig.pop(key, None)
            else:
                orig[key] = merged
        elif isinstance(value, list):
            orig[key] = _merge_list(cur if isinstance(cur, list) else [], value, sub)
        else:
            orig[key] = value
    for field, order in orders.items():
        if isinstance(orig.get(field), list):
            orig[field] = _reorder(orig[field], order, merge_key((*path, field)))
    if isinstance(retain, list):
        for key in [k for k in orig if k not in retain]:
            del orig[key]
    return orig


def _merge_list(orig: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    key = merge_key(path)
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [_strip(i) for i in patch if not (isinstance(i, dict) and i.get("$patch"))]
    if path[-1] in _PRIMITIVE_MERGE:
        return orig + [v for v in patch if v not in orig]
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [_strip(i) if isinstance(i, dict) else i for i in patch]
    out = list(orig)
    for item in patch:
        kval = item.get(key)
        idx = next((n for n, o in enumerate(out) if isinstance(o, dict) and o.get(key) == kval), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip(item))
        else:
            merged = _merge_map(out[idx], item, path)
            if merged is _DELETE:
                out.pop(idx)
            else:
                out[idx] = merged
    return out


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(v: Any) -> Any:
        return v.get(key) if key and isinstance(v, dict) else v

    wanted = [ident(o) for o in order]
    ranked = [i for w in wanted for i in items if ident(i) == w]
    rest = [i for i in items if ident(i) not in wanted]
    return ranked + rest


def _strip(value: Any) -> Any:
    """Drop directives from a patch fragment that is inserted as-is."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
