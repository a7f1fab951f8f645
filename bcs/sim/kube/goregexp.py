"""Whether Go's ``regexp`` (RE2 syntax) compiles a pattern, and its error text when it does not.

CRD ``pattern``s are compiled by Go when the CRD is written. RE2 has no look-around, backreferences,
atomic groups, possessive quantifiers or inline comments, which Python's ``re`` accepts; those are
found by scanning, other syntax errors by Python's compiler (their wording mapped to Go's for the
common cases: unbalanced parentheses and brackets, a repetition without argument, a bad escape).
"""

from __future__ import annotations

import re
import warnings

__all__ = ["compile_error", "python_pattern"]

_PERL_GROUPS = ("(?=", "(?!", "(?<=", "(?<!", "(?>", "(?#", "(?|", "(?(")
_GO_LETTER_ESCAPES = set("aftnrvxpPdDsSwWbBAzQE")


def _scan(pattern: str) -> str:
    """Go-only failures Python would accept."""
    i, n, in_class = 0, len(pattern), False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt, after = pattern[i + 1], pattern[i + 2 : i + 3]
            backref = nxt in "89" or (nxt in "1234567" and not ("0" <= after <= "7"))
            if backref or (nxt.isalpha() and nxt not in _GO_LETTER_ESCAPES):
                return f"invalid escape sequence: `\\{nxt}`"
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            for group in _PERL_GROUPS:
                if pattern.startswith(group, i):
                    return f"invalid or unsupported Perl syntax: `{group[:3]}`"
        elif ch in "*+?}" and pattern[i + 1 : i + 2] == "+":
            return f"invalid nested repetition operator: `{ch}+`"
        i += 1
    return ""


_UNICODE_CLASS = re.compile(r"\\[pP](\{\^?[A-Za-z_]+\}|[A-Za-z])")


def python_pattern(pattern: str) -> str:
    r"""``pattern`` with the Go syntax Python spells differently rewritten: ``\z`` and ``(?<name>…)``.
    (Unicode classes such as ``\p{L}`` have no Python ``re`` equivalent and stay as they are.)"""
    out = re.sub(r"\(\?<([A-Za-z_])", r"(?P<\1", pattern)
    return re.sub(r"(?<!\\)\\z", r"\\Z", out)


def compile_error(pattern: str) -> str:
    """Go's ``regexp.Compile`` error text for ``pattern`` ("" when it compiles)."""
    if err := _scan(pattern):
        return f"error parsing regexp: {err}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # a literal stands in for Unicode classes (valid in and out of brackets) to check the rest
            re.compile(_UNICODE_CLASS.sub("a", python_pattern(pattern)))
    except re.error as exc:
        msg = str(exc.msg)
        pos = exc.pos or 0
        if msg.startswith("global flags not at the start"):
            return ""
        if msg.startswith("missing ), unterminated subpattern"):
            return f"error parsing regexp: missing closing ): `{pattern}`"
        if msg.startswith("unbalanced parenthesis"):
            return f"error parsing regexp: unexpected ): `{pattern}`"
        if msg.startswith("unterminated character set"):
            return f"error parsing regexp: missing closing ]: `{pattern[pos:]}`"
        if msg.startswith("nothing to repeat"):
            return (
                f"error parsing regexp: missing argument to repetition operator: `{pattern[pos : pos + 1]}`"
            )
        if msg.startswith("multiple repeat"):
            return f"error parsing regexp: invalid nested repetition operator: `{pattern[pos - 1 : pos + 1]}`"
        if msg.startswith("bad escape"):
            return f"error parsing regexp: invalid escape sequence: `{pattern[pos : pos + 2]}`"
        return f"error parsing regexp: {msg}: `{pattern}`"
    return ""
