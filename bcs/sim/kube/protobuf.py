"""Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``) decoded to JSON objects.

kubectl's generator subcommands (``kubectl create deployment|configmap|secret|namespace|service|
serviceaccount``) send protobuf and never retry as JSON. A body is the magic ``k8s\\x00`` and a
``runtime.Unknown`` envelope (typeMeta, raw, contentEncoding, contentType) whose ``raw`` is the
object's message. Field numbers and types come from ``typeschema`` (Kubernetes 1.32), so every
built-in kind decodes; custom resources have no protobuf form (415, as on a real server).

The result is what Go's JSON encoding of the decoded struct would carry for the fields that matter:
zero values of non-pointer fields are left out (Go cannot tell them from absent), pointer fields
keep an explicit zero (``replicas: 0``), inlined messages merge into their parent, unknown field
numbers are skipped as the generated decoders skip them.
"""

from __future__ import annotations

import base64
import datetime
import struct
from collections.abc import Iterator
from typing import Any

import orjson

from bcs.sim.kube import resources, status, typeschema

__all__ = ["CONTENT_TYPE", "MAGIC", "Malformed", "decode", "decode_message"]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
# Expected wire type per scalar code (2 = length-delimited, also for packed repeated varints).
_WIRE = {"i32": 0, "i64": 0, "bool": 0, "f64": 1, "f32": 5}


class Malformed(ValueError):
    """The bytes are not a valid encoding of the message (Go's proto errors, same wording)."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf):
            raise Malformed("unexpected EOF")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift >= 64:
            raise Malformed("proto: integer overflow")


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) triples: ints for varints, bytes otherwise."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if num <= 0:
            raise Malformed(f"proto: illegal tag {num} (wire type {wt})")
        if wt == 0:
            value, i = _varint(buf, i)
        elif wt in (1, 5):
            size = 8 if wt == 1 else 4
            if i + size > n:
                raise Malformed("unexpected EOF")
            value, i = buf[i : i + size], i + size
        elif wt == 2:
            size, i = _varint(buf, i)
            if size >= 1 << 63:
                raise Malformed("proto: negative length found during unmarshaling")
            if i + size > n:
                raise Malformed("unexpected EOF")
            value, i = buf[i : i + size], i + size
        else:
            raise Malformed(f"proto: illegal wireType {wt}")
        yield num, wt, value


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _time(buf: bytes, micro: bool) -> str | None:
    if not buf:
        return None  # the zero time
    seconds = nanos = 0
    for num, wt, v in _fields(buf):
        if num == 1 and wt == 0:
            seconds = _signed(v, 64)
        elif num == 2 and wt == 0:
            nanos = _signed(v, 32)
    try:
        t = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    except OverflowError:
        raise Malformed(f"time out of range: {seconds}s") from None
    if not micro:  # metav1.Time keeps whole seconds only
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{max(nanos, 0) // 1000:06d}Z"


def _special(code: str, buf: bytes) -> Any:
    """The length-delimited wrapper types that JSON renders as plain values."""
    if code in ("time", "mtime"):
        return _time(buf, code == "mtime")
    parts: dict[int, list[Any]] = {}
    for num, _, v in _fields(buf):
        parts.setdefault(num, []).append(v)
    if code == "qty":
        return bytes(parts.get(1, [b""])[-1]).decode("utf-8", "replace")
    if code == "ios":
        kind = parts.get(1, [0])[-1]
        if kind == 1:
            return bytes(parts.get(3, [b""])[-1]).decode("utf-8", "replace")
        return _signed(parts.get(2, [0])[-1], 32)
    if code == "json":
        raw = bytes(parts.get(1, [b""])[-1])
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Malformed(f"embedded JSON: {exc}") from None
    schema_msg = typeschema.MESSAGES["apiext.JSONSchemaProps"]
    if 1 in parts and code != "orbool":
        return decode_message(schema_msg, parts[1][-1])
    if code == "orbool":
        if 2 in parts:
            return decode_message(schema_msg, parts[2][-1])
        return bool(parts.get(1, [0])[-1])
    if code == "orarray":
        return [decode_message(schema_msg, b) for b in parts.get(2, [])]
    return [bytes(b).decode("utf-8", "replace") for b in parts.get(2, [])]


def _scalar(f: typeschema.Field, wt: int, v: Any) -> Any:
    code = f.type
    if isinstance(code, typeschema.Message):
        return decode_message(code, v)
    if code == "s":
        return bytes(v).decode("utf-8", "replace")
    if code == "b":
        return base64.b64encode(v).decode()
    if code == "i32":
        return _signed(v, 32)
    if code == "i64":
        return _signed(v, 64)
    if code == "bool":
        return v != 0
    if code == "f64":
        return struct.unpack("<d", v)[0]
    if code == "f32":
        return struct.unpack("<f", v)[0]
    return _special(code, v)


def _wrong(f: typeschema.Field, wt: int) -> Malformed:
    return Malformed(f"proto: wrong wireType = {wt} for field {f.json[:1].upper()}{f.json[1:]}")


def _values(f: typeschema.Field, wt: int, v: Any) -> list[Any]:
    """The value(s) one occurrence of a field carries (packed repeated scalars carry several)."""
    want = _WIRE.get(f.type, 2) if isinstance(f.type, str) else 2
    if wt == want:
        return [_scalar(f, wt, v)]
    if f.repeated and wt == 2 and want != 2:  # packed
        out, i = [], 0
        while i < len(v):
            if want == 0:
                item, i = _varint(v, i)
            else:
                size = 8 if want == 1 else 4
                if i + size > len(v):
                    raise Malformed("unexpected EOF")
                item, i = v[i : i + size], i + size
            out.append(_scalar(f, want, item))
        return out
    raise _wrong(f, wt)


def _map_entry(f: typeschema.Field, buf: bytes) -> tuple[str, Any]:
    key, value = "", None
    for num, wt, v in _fields(buf):
        if num == 1:
            if wt != 2:
                raise _wrong(f, wt)
            key = bytes(v).decode("utf-8", "replace")
        elif num == 2:
            value = _values(f, wt, v)[0]
    if value is None and not isinstance(f.type, typeschema.Message):
        value = {"s": "", "b": "", "qty": "0", "bool": False}.get(f.type, 0)
    elif value is None:
        value = {}
    return key, value


def _is_zero(v: Any) -> bool:
    return v is None or v == "" or v is False or (v == 0 and not isinstance(v, bool)) or v == {}


def decode_message(msg: typeschema.Message, buf: bytes) -> dict[str, Any]:
    """One message's JSON object (see the module docstring for the zero-value rules)."""
    out: dict[str, Any] = {}
    seen: dict[int, typeschema.Field] = {}
    for num, wt, v in _fields(buf):
        f = msg.by_number.get(num)
        if f is None:
            continue  # fields this version does not know are skipped
        seen[num] = f
        name = f.json
        if f.is_map:
            if wt != 2:
                raise _wrong(f, wt)
            key, value = _map_entry(f, v)
            out.setdefault(name, {})[key] = value
        elif f.repeated:
            out.setdefault(name, []).extend(_values(f, wt, v))
        else:
            value = _values(f, wt, v)[0]
            old = out.get(name)
            if isinstance(old, dict) and isinstance(value, dict):
                value = {**old, **value}  # a repeated message field merges, as proto does
            out[name] = value
    for f in seen.values():
        if f.is_map or f.repeated:
            continue
        value = out.get(f.json)
        if f.inline:
            out.pop(f.json, None)
            if isinstance(value, dict):
                out.update(value)
        elif _is_zero(value) and (not f.pointer or value is None):
            out.pop(f.json, None)
    return out


def _summary(data: bytes, limit: int = 30) -> str:
    if not data:
        return "<empty>"
    if data[:1] == b"{":
        return data[:limit].decode("utf-8", "replace") + (" ..." if len(data) > limit else "")
    return data[:limit].hex() + (" ..." if len(data) > limit else "")


def decode(raw: bytes, rt: resources.ResourceType, kind: str = "") -> dict[str, Any]:
    """The JSON object a protobuf body carries, for a request on ``rt`` expecting ``kind``."""
    kind = kind or rt.kind
    if rt.is_custom and kind == rt.kind:
        raise status.unsupported_media(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml"
        )
    if not raw.startswith(MAGIC):
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {kind}): provided data does not "
            f"appear to be a protobuf message, expected prefix [107 56 115 0] ({_summary(raw)})"
        )
    api_version = body_kind = ""
    inner = b""
    try:
        for num, wt, v in _fields(raw[len(MAGIC) :]):
            if num == 1 and wt == 2:
                for n2, w2, v2 in _fields(v):
                    if n2 == 1 and w2 == 2:
                        api_version = bytes(v2).decode("utf-8", "replace")
                    elif n2 == 2 and w2 == 2:
                        body_kind = bytes(v2).decode("utf-8", "replace")
            elif num == 2 and wt == 2:
                inner = v
    except Malformed as exc:
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {kind}): {exc} ({_summary(raw)})"
        ) from None
    api_version = api_version or rt.api_version
    body_kind = body_kind or kind
    group, _, version = api_version.rpartition("/")
    msg = typeschema.root(group, body_kind)
    if msg is None and body_kind == "DeleteOptions":  # registered in every group-version
        msg = typeschema.MESSAGES["meta.DeleteOptions"]
    if msg is None:
        raise status.bad_request(
            f'no kind "{body_kind}" is registered for version "{api_version}" in scheme '
            '"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"'
        )
    try:
        obj = decode_message(msg, inner)
    except Malformed as exc:
        raise status.bad_request(
            f'{body_kind} in version "{version}" cannot be handled as a {kind}: {exc}'
        ) from None
    return {"kind": body_kind, "apiVersion": api_version, **obj}
