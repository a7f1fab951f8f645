"""Decoding a JSON object as a built-in kind, the way Go's JSON decoder into the typed struct does.

``Decoder.run`` walks the object against its ``typeschema`` message and finds what a typed decode
finds: unknown fields (removed, since the struct has nowhere to keep them), duplicate fields (from the
parse, see ``Dups``) and the first value of the wrong JSON type, reported in Go's words
(``json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32``),
which fails the request whatever the field validation directive.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bcs.sim.kube import typeschema

__all__ = ["Decoder", "Dups", "loads"]

_GO_TYPES = {
    "s": "string",
    "b": "[]uint8",
    "i32": "int32",
    "i64": "int64",
    "bool": "bool",
    "f64": "float64",
    "f32": "float32",
    "time": "v1.Time",
    "mtime": "v1.MicroTime",
}
_INT_RANGE = {"i32": 1 << 31, "i64": 1 << 63}
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


class Dups:
    """Duplicate keys seen while parsing JSON, per parsed object (held so object ids stay unique)."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[dict[str, Any], list[str]]] = {}

    def hook(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            dup: list[str] = []
            for key, _ in pairs:
                if key in seen and key not in dup:
                    dup.append(key)
                seen.add(key)
            self._by_id[id(obj)] = (obj, dup)
        return obj

    def of(self, obj: Any) -> list[str]:
        entry = self._by_id.get(id(obj))
        return entry[1] if entry is not None and entry[0] is obj else []

    def __bool__(self) -> bool:
        return bool(self._by_id)

    def everywhere(self, x: Any, path: str = "") -> list[str]:
        """Duplicate-field errors anywhere under ``x`` (an untyped decode reports them all)."""
        out: list[str] = []
        if isinstance(x, dict):
            out += [f'duplicate field "{_join(path, k)}"' for k in self.of(x)]
            for k, v in x.items():
                out += self.everywhere(v, _join(path, k))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                out += self.everywhere(v, f"{path}[{i}]")
        return out


def loads(raw: bytes, *, track: bool) -> tuple[Any, Dups | None]:
    """Parse JSON; with ``track`` also note duplicate keys (``json.JSONDecodeError`` on bad input)."""
    if not track:
        return json.loads(raw), None
    dups = Dups()
    obj = json.loads(raw, object_pairs_hook=dups.hook)
    return obj, dups if dups else None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _go_type(f: typeschema.Field, element: bool = False) -> str:
    t = f.type
    name = f"v1.{t.name.split('.', 1)[1]}" if isinstance(t, typeschema.Message) else _GO_TYPES.get(t, t)
    name = {"qty": "resource.Quantity", "ios": "intstr.IntOrString"}.get(name, name)
    if element:
        return name
    if f.is_map:
        return f"map[string]{name}"
    return f"[]{name}" if f.repeated else name


class Decoder:
    """One decode: ``run`` returns the strict errors; ``type_error`` holds the first type error."""

    def __init__(self, dups: Dups | None) -> None:
        self.dups = dups
        self.errors: list[str] = []
        self.type_error: str | None = None

    def run(self, msg: typeschema.Message, obj: dict[str, Any], path: str = "") -> list[str]:
        self._object(msg, obj, path, path)
        return list(dict.fromkeys(self.errors))

    def _object(self, msg: typeschema.Message, obj: dict[str, Any], path: str, names: str) -> None:
        dup = self.dups.of(obj) if self.dups else ()
        for key in list(obj):
            p = _join(path, key)
            f = msg.by_json.get(key)
            if f is None:
                self.errors.append(f'unknown field "{p}"')
                del obj[key]
                continue
            if key in dup:
                self.errors.append(f'duplicate field "{p}"')
            self._field(msg, f, obj[key], p, _join(names, key))

    def _field(
        self, owner: typeschema.Message, f: typeschema.Field, value: Any, path: str, names: str
    ) -> None:
        if value is None:
            return
        if f.is_map or f.repeated:
            want = dict if f.is_map else list
            if not isinstance(value, want):
                self._mismatch(owner, names, value, _go_type(f))
                return
            if isinstance(value, dict):
                if self.dups:
                    self.errors += [f'duplicate field "{path}.{k}"' for k in self.dups.of(value)]
                items = [(f"{path}.{k}", v) for k, v in value.items()]
            else:
                items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
            for p, v in items:
                self._element(owner, f, v, p, names)
        else:
            self._element(owner, f, value, path, names)

    def _element(self, owner: typeschema.Message, f: typeschema.Field, v: Any, path: str, names: str) -> None:
        if v is None:
            return
        t = f.type
        if isinstance(t, typeschema.Message):
            if isinstance(v, dict):
                self._object(t, v, path, names)
            else:
                self._mismatch(owner, names, v, _go_type(f, element=True))
            return
        if t in _INT_RANGE:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self._mismatch(owner, names, v, _go_type(f, element=True))
            elif isinstance(v, float) or not -_INT_RANGE[t] <= v < _INT_RANGE[t]:
                self._mismatch(owner, names, v, _go_type(f, element=True), literal=True)
        elif t in ("f64", "f32"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self._mismatch(owner, names, v, _go_type(f, element=True))
        elif t == "bool":
            if not isinstance(v, bool):
                self._mismatch(owner, names, v, "bool")
        elif t in ("s", "b", "time", "mtime"):
            if not isinstance(v, str):
                self._mismatch(owner, names, v, _go_type(f, element=True))
        elif t == "qty":
            text = str(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else ""
            if not _QUANTITY.match(text.strip()):
                self._fail(QUANTITY_ERROR)
        elif t == "ios" and not isinstance(v, str):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self._fail(f"json: cannot unmarshal {_json_kind(v)} into Go value of type int32")
            elif isinstance(v, float) or not -(1 << 31) <= v < 1 << 31:
                self._fail(f"json: cannot unmarshal number {v} into Go value of type int32")

    def _mismatch(
        self, owner: typeschema.Message, names: str, v: Any, go_type: str, *, literal: bool = False
    ) -> None:
        kind = f"number {v}" if literal else _json_kind(v)
        struct = owner.name.split(".", 1)[1]
        self._fail(f"json: cannot unmarshal {kind} into Go struct field {struct}.{names} of type {go_type}")

    def _fail(self, message: str) -> None:
        if self.type_error is None:
            self.type_error = message
