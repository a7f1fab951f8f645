"""The typed shape of built-in kinds: which JSON fields exist, what they hold, their protobuf numbers.

Parsed once from ``typedefs.TABLE``. ``root(group, kind)`` gives a kind's message; a ``Message``
answers ``by_json`` (JSON name -> field, inlined messages flattened in, as Go's JSON decoder sees
them) and ``by_number`` (protobuf field number -> field, inlined messages kept as sub-messages, as
on the wire).
"""

from __future__ import annotations

from typing import Any

from bcs.sim.kube import typedefs

__all__ = ["SCALARS", "Field", "Message", "root"]

_PLAIN = ("s", "b", "i32", "i64", "bool", "f64", "f32")
_WRAPPED = ("time", "mtime", "qty", "ios", "json", "orbool", "orarray", "orstrs")
SCALARS = frozenset((*_PLAIN, *_WRAPPED))
# API group -> table section.
_SECTIONS = {
    "": "core",
    "apps": "apps",
    "events.k8s.io": "events",
    "coordination.k8s.io": "coord",
    "autoscaling": "autoscaling",
    "apiextensions.k8s.io": "apiext",
    "apiregistration.k8s.io": "apireg",
    "meta.k8s.io": "meta",
}


class Field:
    """One field: ``type`` is a scalar code (``SCALARS``) or a ``Message``."""

    __slots__ = ("inline", "is_map", "json", "number", "pointer", "repeated", "type")

    def __init__(self, json: str, number: int, code: str) -> None:
        self.json = json
        self.number = number
        self.inline = code.startswith("^")
        code = code.lstrip("^")
        self.repeated = code.endswith("*")
        self.pointer = code.endswith("?")
        code = code.rstrip("*?")
        self.is_map = code.startswith("{")
        self.type: Any = code.strip("{}")

    @property
    def message(self) -> Message | None:
        return self.type if isinstance(self.type, Message) else None


# Messages that are kinds: their JSON also carries the inlined TypeMeta (apiVersion, kind).
_KINDS = {
    "core": "Namespace Pod Service Endpoints ConfigMap PersistentVolumeClaim Secret Node Event "
    "ServiceAccount Binding",
    "apps": "Deployment ReplicaSet StatefulSet DaemonSet ControllerRevision",
    "events": "Event",
    "coord": "Lease",
    "autoscaling": "Scale",
    "apiext": "CustomResourceDefinition",
    "apireg": "APIService",
    "meta": "DeleteOptions",
}
_TYPE_META = (Field("apiVersion", 0, "s"), Field("kind", 0, "s"))


class Message:
    __slots__ = ("_by_json", "by_number", "is_kind", "name")

    def __init__(self, name: str, fields: list[Field]) -> None:
        self.name = name
        self.by_number = {f.number: f for f in fields}
        section, _, short = name.partition(".")
        self.is_kind = short in _KINDS.get(section, "").split()
        self._by_json: dict[str, Field] | None = None

    @property
    def by_json(self) -> dict[str, Field]:
        if self._by_json is None:
            out: dict[str, Field] = {f.json: f for f in _TYPE_META} if self.is_kind else {}
            for f in self.by_number.values():
                if f.inline and f.message is not None:
                    out.update(f.message.by_json)
                else:
                    out[f.json] = f
            self._by_json = out
        return self._by_json

    def __repr__(self) -> str:
        return f"Message({self.name})"


def _parse(text: str) -> dict[str, Message]:
    raw: dict[str, list[str]] = {}
    section = ""
    current: list[str] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if line[0].isspace():
            assert current is not None
            current += line.split()
            continue
        name, _, rest = line.partition(":")
        current = raw[f"{section}.{name}"] = rest.split()
    messages: dict[str, Message] = {}
    for qual, tokens in raw.items():
        fields = [Field(tokens[i], int(tokens[i + 1]), tokens[i + 2]) for i in range(0, len(tokens), 3)]
        messages[qual] = Message(qual, fields)
    for qual, msg in messages.items():
        section = qual.split(".", 1)[0]
        for f in msg.by_number.values():
            if f.type in SCALARS:
                continue
            if "." in f.type:
                f.type = messages[f.type]
                continue
            for cand in (section, "meta", "core"):
                target = messages.get(f"{cand}.{f.type}")
                if target is not None:
                    f.type = target
                    break
            else:
                raise ValueError(f"{qual}: unknown type {f.type}")
    return messages


MESSAGES = _parse(typedefs.TABLE)


def root(group: str, kind: str) -> Message | None:
    """The message of a built-in kind (None for kinds the table does not describe)."""
    section = _SECTIONS.get(group)
    return MESSAGES.get(f"{section}.{kind}") if section else None
