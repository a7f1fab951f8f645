"""Mesos v1 JSON as the master speaks it: ids, lenient decoding, call validation, task states.

Output follows stout's protobuf-to-JSON rules (ids as ``{"value": ...}``, enums as names, bytes as
base64, doubles keep ``.0``); input is as lenient as ``protobuf::parse`` (numeric strings for numbers,
``null`` as unset). ``validate_call`` gives the synchronous 400 texts of the real handler.
"""

from __future__ import annotations

import base64
import binascii
import random
import time
import uuid as uuid_mod
from typing import Any

import orjson

__all__ = [
    "CALL_TYPES",
    "TERMINAL_STATES",
    "CallError",
    "as_float",
    "dumps",
    "id_of",
    "ident",
    "new_uuid",
    "parse_call",
    "stream_id",
    "task_status",
    "validate_call",
]

CALL_TYPES = frozenset(
    [
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "SUPPRESS",
        "UPDATE_FRAMEWORK",
        "UNKNOWN",
    ]
)
# The payload a call type must carry, named after it (TEARDOWN, REVIVE and SUPPRESS need none).
_PAYLOAD = {t: t.lower() for t in CALL_TYPES - {"TEARDOWN", "REVIVE", "SUPPRESS", "UNKNOWN"}}
TERMINAL_STATES = frozenset(
    [
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_ERROR",
        "TASK_LOST",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    ]
)
_RESOURCE_TYPES = ("SCALAR", "RANGES", "SET")


class CallError(Exception):
    """A synchronous rejection of a scheduler call: HTTP status and the plain-text body."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def ident(value: str) -> dict[str, str]:
    return {"value": value}


def id_of(obj: Any, key: str) -> str | None:
    """The ``value`` of the id object ``obj[key]`` (None when unset)."""
    if not isinstance(obj, dict):
        return None
    inner = obj.get(key)
    if isinstance(inner, dict) and isinstance(inner.get("value"), str):
        return inner["value"]
    return None


def as_float(value: Any, default: float) -> float:
    """A double field: a number or a numeric string; unset (None) gives ``default``."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def new_uuid(rng: random.Random) -> str:
    """A status-update uuid: 16 random bytes, base64 (24 characters ending in ``==``)."""
    return base64.b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode()


def stream_id(rng: random.Random) -> str:
    return str(uuid_mod.UUID(int=rng.getrandbits(128), version=4))


def parse_call(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CallError(400, f"Failed to parse body into JSON: {exc}") from None


def _convert_error(text: str) -> CallError:
    return CallError(400, f"Failed to convert JSON into Call protobuf: {text}")


def _need(obj: Any, path: str, fields: tuple[str, ...], missing: list[str]) -> None:
    if not isinstance(obj, dict):
        return
    for f in fields:
        if obj.get(f) is None:
            missing.append(f"{path}.{f}")


def _check_id(obj: Any, key: str, path: str, missing: list[str]) -> None:
    if isinstance(obj, dict) and isinstance(obj.get(key), dict):
        _need(obj[key], f"{path}.{key}", ("value",), missing)


def _check_resources(items: Any, path: str, missing: list[str]) -> None:
    for i, r in enumerate(items if isinstance(items, list) else ()):
        _need(r, f"{path}[{i}]", ("name", "type"), missing)
        kind = r.get("type") if isinstance(r, dict) else None
        if isinstance(kind, str) and kind not in _RESOURCE_TYPES:
            raise _convert_error(f"Failed to find enum for '{kind}'")
        if isinstance(kind, int):
            raise _convert_error(f"Expecting a string for enum field '{path}[{i}].type'")


def _check_task(task: Any, path: str, missing: list[str]) -> None:
    _need(task, path, ("name", "task_id", "agent_id"), missing)
    _check_id(task, "task_id", path, missing)
    _check_id(task, "agent_id", path, missing)
    if isinstance(task, dict):
        _check_resources(task.get("resources"), f"{path}.resources", missing)
        if isinstance(task.get("executor"), dict):
            _need(task["executor"], f"{path}.executor", ("executor_id",), missing)


def _required(kind: str, call: dict[str, Any]) -> list[str]:
    """Paths of required proto fields missing from the call (protobuf reports them on conversion)."""
    missing: list[str] = []
    body = call.get(_PAYLOAD.get(kind, ""))
    if kind == "SUBSCRIBE":
        _need(body, "subscribe", ("framework_info",), missing)
        if isinstance(body, dict):
            _need(body.get("framework_info"), "subscribe.framework_info", ("user", "name"), missing)
    elif kind == "ACCEPT" and isinstance(body, dict):
        for i, op in enumerate(body.get("operations") or ()):
            p = f"accept.operations[{i}]"
            if not isinstance(op, dict):
                continue
            for j, task in enumerate((op.get("launch") or {}).get("task_infos") or ()):
                _check_task(task, f"{p}.launch.task_infos[{j}]", missing)
            group = op.get("launch_group")
            if isinstance(group, dict):
                _need(group, f"{p}.launch_group", ("executor", "task_group"), missing)
                _need(group.get("executor"), f"{p}.launch_group.executor", ("executor_id",), missing)
                tasks = (group.get("task_group") or {}).get("tasks") or ()
                for j, task in enumerate(tasks):
                    _check_task(task, f"{p}.launch_group.task_group.tasks[{j}]", missing)
        for i, offer_id in enumerate(body.get("offer_ids") or ()):
            _need(offer_id, f"accept.offer_ids[{i}]", ("value",), missing)
    elif kind == "KILL":
        _need(body, "kill", ("task_id",), missing)
    elif kind == "ACKNOWLEDGE":
        _need(body, "acknowledge", ("agent_id", "task_id", "uuid"), missing)
    elif kind == "SHUTDOWN":
        _need(body, "shutdown", ("executor_id", "agent_id"), missing)
    elif kind == "MESSAGE":
        _need(body, "message", ("agent_id", "executor_id", "data"), missing)
    elif kind == "RECONCILE" and isinstance(body, dict):
        for i, t in enumerate(body.get("tasks") or ()):
            _need(t, f"reconcile.tasks[{i}]", ("task_id",), missing)
    return missing


def _decode_bytes(value: Any) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise _convert_error("Failed to base64 decode bytes field") from None


def validate_call(call: Any) -> str:
    """Check a decoded call as the master does before acting on it; returns the call type."""
    if not isinstance(call, dict):
        raise _convert_error("Expecting a JSON object")
    kind = call.get("type")
    if isinstance(kind, (int, float)) and not isinstance(kind, bool):
        raise _convert_error("Expecting a string for enum field 'type'")
    if kind not in CALL_TYPES:
        kind = None  # an unknown enum name leaves an optional enum unset
    missing = _required(kind or "", call)
    if missing:
        raise _convert_error("Missing required fields: " + ", ".join(missing))
    for key in ("acknowledge", "message"):
        field = "uuid" if key == "acknowledge" else "data"
        if kind == key.upper() and isinstance(call.get(key), dict):
            raw = _decode_bytes(call[key][field])
            if key == "acknowledge" and len(raw) != 16:
                raise CallError(400, "Failed to validate scheduler::Call: Not a valid UUID")
    prefix = "Failed to validate scheduler::Call: "
    if kind is None:
        raise CallError(400, prefix + "Expecting 'type' to be present")
    if kind == "SUBSCRIBE":
        info = call["subscribe"]["framework_info"]
        if id_of(call, "framework_id") != id_of(info, "id") and (
            call.get("framework_id") is not None or info.get("id") is not None
        ):
            raise CallError(400, prefix + "'framework_id' differs from 'subscribe.framework_info.id'")
    elif kind != "UNKNOWN" and id_of(call, "framework_id") is None:
        raise CallError(400, prefix + "Expecting 'framework_id' to be present")
    payload = _PAYLOAD.get(kind)
    if payload and not isinstance(call.get(payload), dict):
        raise CallError(400, prefix + f"Expecting '{payload}' to be present")
    return kind


def task_status(
    task_id: str,
    state: str,
    *,
    source: str,
    agent_id: str | None = None,
    executor_id: str | None = None,
    message: str | None = None,
    reason: str | None = None,
    uuid: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A v1 TaskStatus; ``uuid`` only for updates that come from an agent or executor."""
    status: dict[str, Any] = {"task_id": ident(task_id), "state": state, "source": source}
    if message is not None:
        status["message"] = message
    if reason is not None:
        status["reason"] = reason
    if agent_id is not None:
        status["agent_id"] = ident(agent_id)
    if executor_id is not None:
        status["executor_id"] = ident(executor_id)
    status["timestamp"] = time.time()
    if uuid is not None:
        status["uuid"] = uuid
    if extra:
        status.update(extra)
    return status
