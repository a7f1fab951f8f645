"""Kubernetes label selectors (the ``labelSelector`` query parameter) as store conditions.

Grammar, requirements separated by commas (commas inside ``( )`` belong to the set)::

    key=value   key==value   key!=value   key in (a,b)   key notin (a,b)   key   !key

Whitespace may surround tokens, and ``+`` counts as a space (the URL form ``k+in+(a,b)`` may reach us
undecoded; ``+`` is never part of a valid label). Keys and values follow Kubernetes label syntax.
Each requirement becomes a condition on ``data.metadata.labels.<key>``; as in Kubernetes (and Mongo's
``$ne``/``$nin``), ``!=`` and ``notin`` also match objects without the label.
"""

from __future__ import annotations

import re

from bcs import errors
from bcs.storage.store import conditions

__all__ = ["LABELS", "parse"]

LABELS: conditions.Path = ("data", "metadata", "labels")

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY = re.compile(rf"(?:{_NAME}/)?{_NAME}")
_VALUE = re.compile(rf"(?:{_NAME})?")
_STOP = " \t\n,()=!"  # characters that end a key or a value


class _Parser:
    def __init__(self, text: str, prefix: conditions.Path) -> None:
        self.text = text
        self.prefix = prefix
        self.pos = 0
        self.start = 0  # where the current requirement began, for error messages

    def fail(self, reason: str) -> errors.BadRequest:
        end, depth = self.start, 0
        while end < len(self.text) and (self.text[end] != "," or depth > 0):
            depth += {"(": 1, ")": -1}.get(self.text[end], 0)
            end += 1
        part = self.text[self.start : end].strip()
        if not part:
            return errors.BadRequest(f"labelSelector: empty requirement at offset {self.start}")
        return errors.BadRequest(f"labelSelector: {reason} in {part!r}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end_of_requirement(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text) or self.text[self.pos] == ","

    def word(self) -> str:
        self.skip_space()
        begin = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _STOP:
            self.pos += 1
        return self.text[begin : self.pos]

    def key(self) -> conditions.Path:
        key = self.word()
        if not key:
            raise self.fail("missing label key")
        if not _KEY.fullmatch(key):
            raise self.fail(f"invalid label key {key!r}")
        return (*self.prefix, key)

    def value(self) -> str:
        value = self.word()
        if not _VALUE.fullmatch(value):
            raise self.fail(f"invalid label value {value!r}")
        return value

    def values(self) -> tuple[str, ...]:
        self.skip_space()
        if not self.text.startswith("(", self.pos):
            raise self.fail("expected '(' after in/notin")
        self.pos += 1
        out = [self.value()]
        self.skip_space()
        while self.text.startswith(",", self.pos):
            self.pos += 1
            out.append(self.value())
            self.skip_space()
        if not self.text.startswith(")", self.pos):
            raise self.fail("expected ')' to close the set")
        self.pos += 1
        if out == [""]:
            raise self.fail("in/notin needs at least one value")
        return tuple(out)

    def requirement(self) -> conditions.Condition:
        self.skip_space()
        self.start = self.pos
        if self.text.startswith("!", self.pos):
            self.pos += 1
            path = self.key()
            if not self.at_end_of_requirement():
                raise self.fail("'!key' takes no operator")
            return conditions.Exists(path, present=False)
        path = self.key()
        if self.at_end_of_requirement():
            return conditions.Exists(path, present=True)
        for op, make in (("==", conditions.Eq), ("!=", conditions.Ne), ("=", conditions.Eq)):
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                cond = make(path, self.value())
                break
        else:
            op = self.word()
            if op == "in":
                cond = conditions.In(path, self.values())
            elif op == "notin":
                cond = conditions.NotIn(path, self.values())
            else:
                raise self.fail(f"unknown operator {op or self.text[self.pos]!r}")
        if not self.at_end_of_requirement():
            raise self.fail("unexpected text after the requirement")
        return cond

    def selector(self) -> conditions.Condition:
        if not self.text.strip():
            return conditions.And()
        items = [self.requirement()]
        while self.pos < len(self.text):  # at a comma
            self.pos += 1
            items.append(self.requirement())
        return conditions.And(*items)


def parse(text: str, *, prefix: conditions.Path = LABELS) -> conditions.Condition:
    """The condition ``text`` selects (``And()`` for an empty selector); BadRequest on bad syntax."""
    return _Parser(text.replace("+", " "), prefix).selector()
