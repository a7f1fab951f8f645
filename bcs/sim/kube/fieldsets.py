"""Field sets for managedFields and server-side apply: sets of paths, rendered as ``FieldsV1``.

A path is a tuple of ``f:<field>`` and ``k:<json merge key>`` segments, as in ``FieldsV1``; a keyed
list element also appears as a path of its own (ending in its ``k:`` segment) so that removing an
applier's last claim on an element removes the element.
"""

from __future__ import annotations

from typing import Any

import orjson

from bcs.sim.kube import patch

__all__ = ["Path", "from_fields_v1", "get", "of", "remove", "to_fields_v1"]

Path = tuple[str, ...]
_SKIP_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
}


def _keyseg(key: str, item: dict[str, Any]) -> str:
    return "k:" + orjson.dumps({key: item.get(key)}).decode()


def of(obj: dict[str, Any]) -> set[Path]:
    """The leaf paths (and keyed list elements) set in ``obj``, minus identity fields."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in _SKIP_META}
            if not value:
                continue
        _walk(value, (f"f:{key}",), (key,), out)
    return out


def _walk(value: Any, path: Path, names: tuple[str, ...], out: set[Path]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _walk(sub, (*path, f"f:{key}"), (*names, key), out)
        return
    if isinstance(value, list) and value:
        key = patch.merge_key(names)
        if key and all(isinstance(i, dict) for i in value):
            for item in value:
                elem = (*path, _keyseg(key, item))
                out.add(elem)
                for k, sub in item.items():
                    _walk(sub, (*elem, f"f:{k}"), (*names, k), out)
            return
        if names[-1] in ("finalizers",):
            out.update((*path, "v:" + orjson.dumps(v).decode()) for v in value)
            return
    out.add(path)


def _find(items: list[Any], seg: str) -> int | None:
    want = orjson.loads(seg[2:])
    ((key, val),) = want.items()
    for n, item in enumerate(items):
        if isinstance(item, dict) and item.get(key) == val:
            return n
    return None


_MISSING = object()


def get(obj: Any, path: Path) -> Any:
    """The value at ``path`` in ``obj`` (``_MISSING`` sentinel-free: returns None when absent)."""
    cur = obj
    for seg in path:
        if seg.startswith("f:") and isinstance(cur, dict):
            cur = cur.get(seg[2:])
        elif seg.startswith("k:") and isinstance(cur, list):
            n = _find(cur, seg)
            cur = None if n is None else cur[n]
        elif seg.startswith("v:") and isinstance(cur, list):
            value = orjson.loads(seg[2:])
            cur = value if value in cur else None
        else:
            return None
        if cur is None:
            return None
    return cur


def remove(obj: dict[str, Any], path: Path) -> None:
    """Delete the field, list element or set member at ``path``, if present."""
    cur: Any = obj
    for seg in path[:-1]:
        if seg.startswith("f:") and isinstance(cur, dict):
            cur = cur.get(seg[2:])
        elif seg.startswith("k:") and isinstance(cur, list):
            n = _find(cur, seg)
            cur = None if n is None else cur[n]
        else:
            return
        if cur is None:
            return
    last = path[-1]
    if last.startswith("f:") and isinstance(cur, dict):
        cur.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(cur, list):
        n = _find(cur, last)
        if n is not None:
            cur.pop(n)
    elif last.startswith("v:") and isinstance(cur, list):
        value = orjson.loads(last[2:])
        if value in cur:
            cur.remove(value)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for seg in path:
            node = node.setdefault(seg, {})
        if path and path[-1].startswith("k:"):
            node["."] = {}
    return root


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for seg, sub in tree.items():
        if seg == ".":
            out.add(prefix)
            continue
        path = (*prefix, seg)
        if sub:
            out |= from_fields_v1(sub, path)
        else:
            out.add(path)
    return out
