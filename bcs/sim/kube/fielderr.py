"""The apiserver's field errors (``k8s.io/apimachinery/pkg/util/validation/field``) as 422 causes.

A cause is ``(reason, field, message)``; the message is what ``field.Error.ErrorBody`` prints
(``Required value: …``, ``Invalid value: "x": …``). Values print as Go prints the typed value the
error carries: strings quoted, numbers and booleans plain, ``[]string`` as ``[]string{"a"}``, other
values through ``gofmt.field_value`` (decoded JSON) or an already formatted Go literal (``GoLiteral``).
Also the name checks of ``k8s.io/apimachinery/pkg/util/validation`` the messages quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bcs.sim.kube import gofmt

__all__ = [
    "Cause",
    "GoLiteral",
    "dns1035_label",
    "dns1123_label",
    "dns1123_subdomain",
    "duplicate",
    "forbidden",
    "invalid",
    "not_supported",
    "required",
    "strings",
    "too_many",
]

Cause = tuple[str, str, str]

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


class GoLiteral(str):
    """A value already printed the way Go's ``%#v`` prints it (a struct, a typed slice)."""


def strings(values: Sequence[str] | None) -> GoLiteral:
    """``%#v`` of a ``[]string`` (None is the nil slice)."""
    if values is None:
        return GoLiteral("[]string(nil)")
    return GoLiteral("[]string{" + ", ".join(gofmt.quote(str(s)) for s in values) + "}")


def _value(value: Any) -> str:
    if isinstance(value, GoLiteral):
        return str(value)
    return gofmt.field_value(value)


def _with(text: str, detail: str) -> str:
    return f"{text}: {detail}" if detail else text


def required(path: str, detail: str = "") -> Cause:
    return ("FieldValueRequired", path, _with("Required value", detail))


def forbidden(path: str, detail: str = "") -> Cause:
    return ("FieldValueForbidden", path, _with("Forbidden", detail))


def invalid(path: str, value: Any, detail: str = "") -> Cause:
    return ("FieldValueInvalid", path, _with(f"Invalid value: {_value(value)}", detail))


def duplicate(path: str, value: Any) -> Cause:
    return ("FieldValueDuplicate", path, f"Duplicate value: {_value(value)}")


def not_supported(path: str, value: Any, valid: Sequence[str]) -> Cause:
    shown = ", ".join(gofmt.quote(v) for v in valid)
    detail = f": supported values: {shown}" if shown else ""
    return ("FieldValueNotSupported", path, f"Unsupported value: {_value(value)}{detail}")


def too_many(path: str, actual: int, limit: int) -> Cause:
    return ("FieldValueTooMany", path, f"Too many: {actual}: must have at most {limit} items")


def _name_errors(value: str, limit: int, pattern: re.Pattern[str], msg: str, *examples: str) -> list[str]:
    """The reasons ``value`` is not a name of this form: too long, or not matching ``pattern``."""
    out = [f"must be no more than {limit} characters"] if len(value) > limit else []
    if not pattern.fullmatch(value):
        shown = ",  or ".join(f"'{e}'" for e in examples)
        out.append(f"{msg} (e.g. {shown}, regex used for validation is '{pattern.pattern}')")
    return out


def dns1035_label(value: str) -> list[str]:
    """``IsDNS1035Label``: the reasons ``value`` is not one (empty when it is)."""
    msg = (
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
        "alphabetic character, and end with an alphanumeric character"
    )
    return _name_errors(value, 63, _DNS1035_LABEL, msg, "my-name", "abc-123")


def dns1123_label(value: str) -> list[str]:
    """``IsDNS1123Label``."""
    msg = (
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
        "must start and end with an alphanumeric character"
    )
    return _name_errors(value, 63, _DNS1123_LABEL, msg, "my-name", "123-abc")


def dns1123_subdomain(value: str) -> list[str]:
    """``IsDNS1123Subdomain``."""
    msg = (
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
        "'.', and must start and end with an alphanumeric character"
    )
    return _name_errors(value, 253, _DNS1123_SUBDOMAIN, msg, "example.com")
