"""Condition and query values, and the port's key escaping (no store needed)."""

from __future__ import annotations

import datetime
import itertools

import pytest

from bcs.storage.store import conditions as c
from bcs.storage.store import port


def test_paths_from_strings_and_tuples() -> None:
    assert c.to_path("data.metadata.name") == ("data", "metadata", "name")
    assert c.to_path(("data", "a.b")) == ("data", "a.b")
    assert c.Eq("a.b", 1) == c.Eq(("a", "b"), 1)
    for bad in ("", "a..b", ".a", ()):
        with pytest.raises(ValueError):
            c.to_path(bad)


def test_values_are_scalars_and_datetimes_are_aware() -> None:
    with pytest.raises(TypeError):
        c.Eq("a", {"b": 1})
    with pytest.raises(TypeError):
        c.In("a", [1, [2]])
    with pytest.raises(ValueError):
        c.Eq("a", datetime.datetime(2024, 1, 1))


def test_range_bounds() -> None:
    assert c.Range("n", gt=1, lte=2.5).bounds() == {"gt": 1, "lte": 2.5}
    with pytest.raises(ValueError):
        c.Range("n")
    with pytest.raises(TypeError):
        c.Range("n", gt=1, lt="2")
    with pytest.raises(TypeError):
        c.Range("n", gt=True)


def test_query_normalises_fields_and_checks_paging() -> None:
    q = c.Query(fields=["data.metadata", "data", "resourceName", "data.spec.x"])
    assert q.fields == (("data",), ("resourceName",))
    assert c.Query(sort=[("a.b", -1)]).sort == ((("a", "b"), -1),)
    with pytest.raises(ValueError):
        c.Query(sort=[("a", 0)])
    with pytest.raises(ValueError):
        c.Query(offset=-1)
    with pytest.raises(ValueError):
        c.Query(limit=-1)


def test_key_match() -> None:
    namespaced = {"clusterId": "c", "namespace": "n", "resourceType": "Pod", "resourceName": "x"}
    assert c.key_match(namespaced) == c.And(*(c.Eq((k,), v) for k, v in namespaced.items()))
    cluster = {"clusterId": "c", "resourceType": "Node", "resourceName": "x"}
    assert c.key_match(cluster).items[-1] == c.Exists(("namespace",), present=False)
    assert c.key_match({"name": "a"}) == c.And(c.Eq(("name",), "a"))


@pytest.mark.parametrize(
    "key",
    ["plain", "", "$", "a.b", "$set", 'q"', "b\\s", "t\tab", "\uff05", "\uff05~~", "\uff0524", "\uff05--"],
)
def test_key_escaping_round_trips_and_is_safe(key: str) -> None:
    escaped = port.escape_key(key)
    assert port.unescape_key(escaped) == key
    assert escaped
    assert not any(ch in escaped for ch in '$."\\\t')


def test_encode_decode() -> None:
    when = datetime.datetime(2024, 1, 1, 8, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    value = {"a.b": [1, ("x", None)], "t": when}
    stored = port.encode(value, date_marker=True)
    assert stored == {"a\uff052eb": [1, ["x", None]], "t": {"$date": 1704067200000}}
    assert port.decode(stored, date_marker=True) == {"a.b": [1, ["x", None]], "t": when}
    with pytest.raises(TypeError):
        port.encode({"x": object()}, date_marker=False)
    with pytest.raises(TypeError):
        port.encode({1: "x"}, date_marker=False)


def test_clock_never_repeats() -> None:
    clock = port.Clock()
    stamps = [clock.now() for _ in range(50)]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert all(s.microsecond % 1000 == 0 and s.tzinfo is datetime.UTC for s in stamps)
