"""Label selectors: the Kubernetes grammar (and its URL form) parsed into store conditions."""

from __future__ import annotations

import pytest

from bcs import errors
from bcs.storage import selectors
from bcs.storage.store import conditions as c


def label(key: str) -> tuple[str, ...]:
    return ("data", "metadata", "labels", key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", c.And()),
        ("   ", c.And()),
        ("app=web", c.And(c.Eq(label("app"), "web"))),
        ("app==web", c.And(c.Eq(label("app"), "web"))),
        ("app=", c.And(c.Eq(label("app"), ""))),
        ("app!=web", c.And(c.Ne(label("app"), "web"))),
        ("tier in (fe,be)", c.And(c.In(label("tier"), ["fe", "be"]))),
        ("tier notin (fe)", c.And(c.NotIn(label("tier"), ["fe"]))),
        ("canary", c.And(c.Exists(label("canary")))),
        ("!canary", c.And(c.Exists(label("canary"), present=False))),
        (
            "k1=v1,k2 in (a,b),k3 notin (a,b),k4!=v,k5,!k6",
            c.And(
                c.Eq(label("k1"), "v1"),
                c.In(label("k2"), ["a", "b"]),
                c.NotIn(label("k3"), ["a", "b"]),
                c.Ne(label("k4"), "v"),
                c.Exists(label("k5")),
                c.Exists(label("k6"), present=False),
            ),
        ),
        (
            "app.kubernetes.io/name = web , example.com/tier in ( a , b.c-d_e )",
            c.And(
                c.Eq(label("app.kubernetes.io/name"), "web"),
                c.In(label("example.com/tier"), ["a", "b.c-d_e"]),
            ),
        ),
    ],
)
def test_valid_selectors(text: str, expected: c.Condition) -> None:
    assert selectors.parse(text) == expected


def test_the_url_form_uses_plus_for_spaces() -> None:
    url_form = "k1=v1,k2+in+(a,b),k3+notin+(a,b),k4+!=+v,k5"
    assert selectors.parse(url_form) == selectors.parse(url_form.replace("+", " "))
    assert selectors.parse("k2+in+(a,b)") == c.And(c.In(label("k2"), ["a", "b"]))


def test_another_prefix() -> None:
    assert selectors.parse("a=b", prefix=("labels",)) == c.And(c.Eq(("labels", "a"), "b"))


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("app=web,tier in (a,b", "tier in (a,b"),
        ("tier in a", "tier in a"),
        ("tier notin ()", "tier notin ()"),
        ("=web", "=web"),
        ("app=web=x", "app=web=x"),
        ("replicas > 1", "replicas > 1"),
        ("a b", "a b"),
        ("app$=web", "app$=web"),
        ("app=we$b", "app=we$b"),
        ("ok=1,!gone=x", "!gone=x"),
        ("a=1,,b=2", "empty requirement at offset 4"),
        ("a=1,", "empty requirement at offset 4"),
        ("-bad=1", "-bad=1"),
        ("x in (a,b) y", "x in (a,b) y"),
    ],
)
def test_bad_selectors_name_the_parameter_and_the_part(text: str, part: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        selectors.parse(text)
    message = caught.value.message
    assert message.startswith("labelSelector: ")
    assert message.endswith(part if part.startswith("empty") else f"in {part!r}")
    assert caught.value.status == 400
