"""The string ``format``s the apiextensions apiserver enforces on custom resources.

A CRD schema may name any format, but only these are checked (others are ignored, as the apiserver
strips them before validating): the kube-openapi registry's checks, reimplemented. Names are compared
with dashes removed (``date-time`` is ``datetime``).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import unicodedata
from collections.abc import Callable

__all__ = ["check", "checker", "known"]

_UUID = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID3 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID4 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_UUID5 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
# Letters (``\p{L}``) are mapped to "a" and symbols (``\p{S}``) to "$" before matching this.
_HOSTNAME = re.compile(
    r"^([a-zA-Z0-9$]((-?[a-zA-Z0-9$]{0,62})?)|"
    r"([a-zA-Z0-9$](([a-zA-Z0-9\-$]{0,61}[a-zA-Z0-9$])?)(\.)){1,}([a-zA-Z]){2,63})$"
)
_TIME = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_GO_DURATION = re.compile(r"^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$")
_LOOSE_DURATION = re.compile(r"(\d+)\s*([A-Za-zµ]+)", re.ASCII)
_UNITS = (
    ("ns", "nano"),
    ("us", "µs", "micro"),
    ("ms", "milli"),
    ("s", "sec"),
    ("m", "min"),
    ("h", "hr", "hour"),
    ("d", "day"),
    ("w", "wk", "week"),
)
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGB_PART = r"\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*"
_RGBCOLOR = re.compile(rf"^rgb\({_RGB_PART},{_RGB_PART},{_RGB_PART}\)$", re.ASCII)
_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", re.ASCII)
_MAC = re.compile(
    r"^(?:[0-9a-fA-F]{2}(?:([:-])[0-9a-fA-F]{2})(?:\1[0-9a-fA-F]{2}){4}(?:(?:\1[0-9a-fA-F]{2}){2}|"
    r"(?:\1[0-9a-fA-F]{2}){14})?|[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}"
    r"(?:(?:\.[0-9a-fA-F]{4})|(?:\.[0-9a-fA-F]{4}){7})?)$"
)
_CREDIT = re.compile(
    r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)"
    r"[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|"
    r"(?:2131|1800|35\d{3})\d{11}|6[27][0-9]{14})$",
    re.ASCII,
)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_ADDR = rf'(?:{_ATOM}(?:\.{_ATOM})*|"(?:[^"\\\r\n]|\\.)*")@(?:{_ATOM}(?:\.{_ATOM})*|\[[^\[\]\\\r\n]*\])'
_WORD = rf'(?:{_ATOM}|"(?:[^"\\]|\\.)*")'
_EMAIL = re.compile(rf"^\s*(?:{_WORD}(?:\s+{_WORD})*\s*<{_ADDR}>|{_ADDR})\s*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _hostname(s: str) -> bool:
    mapped = "".join(
        "a" if unicodedata.category(c)[0] == "L" else "$" if unicodedata.category(c)[0] == "S" else c
        for c in s
    )
    return bool(_HOSTNAME.match(mapped)) and len(s) <= 255 and all(len(p) <= 63 for p in s.split("."))


def _date(s: str) -> bool:
    m = _DATE.match(s)
    if m is None:
        return False
    try:
        datetime.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def _datetime(s: str) -> bool:
    if len(s) < 4:
        return False
    parts = s.lower().split("t")
    if len(parts) < 2 or not _date(parts[0]):
        return False
    m = _TIME.search(parts[1])
    return m is not None and m[1] <= "23" and m[2] <= "59" and m[3] <= "59"


def _duration(s: str) -> bool:
    if s in ("0", "+0", "-0") or _GO_DURATION.match(s):
        return True
    for _, unit in _LOOSE_DURATION.findall(s):
        unit = unit.strip().lower()
        for variants in _UNITS:
            if unit.startswith(variants[-1]) or any(unit == x.lower() for x in variants):
                return True
    return False


def _sloppy_ip(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """net.ParseIP, allowing leading zeros in IPv4 octets (netutils.ParseIPSloppy)."""
    if "%" in s:
        return None
    if ":" not in s:
        parts = s.split(".")
        if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) < 256 for p in parts):
            return None
        return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
    try:
        return ipaddress.IPv6Address(s)
    except ValueError:
        return None


def _cidr(s: str) -> bool:
    ip, sep, bits = s.partition("/")
    addr = _sloppy_ip(ip)
    if not sep or addr is None or not (bits.isascii() and bits.isdigit()) or len(bits) > 3:
        return False
    return int(bits) <= addr.max_prefixlen


def _isbn10(s: str) -> bool:
    s = re.sub(r"[\s-]+", "", s)
    if not re.fullmatch(r"[0-9]{9}X|[0-9]{10}", s):
        return False
    total = sum((i + 1) * int(c) for i, c in enumerate(s[:9]))
    total += 10 * (10 if s[9] == "X" else int(s[9]))
    return total % 11 == 0


def _isbn13(s: str) -> bool:
    s = re.sub(r"[\s-]+", "", s)
    if not re.fullmatch(r"[0-9]{13}", s):
        return False
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(s[:12]))
    return (10 - total % 10) % 10 == int(s[12])


def _credit_card(s: str) -> bool:
    digits = re.sub(r"[^0-9]+", "", s)
    if not _CREDIT.match(digits):
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _request_uri(s: str) -> bool:
    """url.ParseRequestURI: an absolute URI or an absolute path, no control bytes, valid escapes."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in s) or _BAD_ESCAPE.search(s.split("#")[0]):
        return False
    if s.startswith("/"):
        return True
    m = _SCHEME.match(s)
    if m is None:
        return False
    rest = s[m.end() :]
    if rest.startswith("//"):
        host = rest[2:].split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
        return " " not in host
    return True


_CHECKS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": lambda s: len(s) == 24 and all(c in "0123456789abcdefABCDEF" for c in s),
    "uri": _request_uri,
    "email": lambda s: bool(_EMAIL.match(s)),
    "hostname": _hostname,
    "ipv4": lambda s: _sloppy_ip(s) is not None and "." in s,
    "ipv6": lambda s: _sloppy_ip(s) is not None and ":" in s,
    "cidr": _cidr,
    "mac": lambda s: bool(_MAC.match(s)),
    "uuid": lambda s: bool(_UUID.match(s)),
    "uuid3": lambda s: bool(_UUID3.match(s)),
    "uuid4": lambda s: bool(_UUID4.match(s)),
    "uuid5": lambda s: bool(_UUID5.match(s)),
    "isbn": lambda s: _isbn10(s) or _isbn13(s),
    "isbn10": _isbn10,
    "isbn13": _isbn13,
    "creditcard": _credit_card,
    "ssn": lambda s: len(s) == 11 and bool(_SSN.match(s)),
    "hexcolor": lambda s: bool(_HEXCOLOR.match(s)),
    "rgbcolor": lambda s: bool(_RGBCOLOR.match(s)),
    "byte": lambda s: bool(_BASE64.match(s)),
    "password": lambda s: True,
    "date": _date,
    "duration": _duration,
    "datetime": _datetime,
}


def known(fmt: str) -> bool:
    """Whether the apiserver checks values of this format."""
    return fmt.replace("-", "") in _CHECKS


def check(fmt: str, value: str) -> bool:
    """Whether ``value`` is a valid ``fmt`` (True for formats that are not checked)."""
    fn = _CHECKS.get(fmt.replace("-", ""))
    return fn is None or fn(value)


def checker(fmt: str) -> Callable[[str], bool] | None:
    """The check of an enforced format (None for formats that are not checked)."""
    return _CHECKS.get(fmt.replace("-", ""))
