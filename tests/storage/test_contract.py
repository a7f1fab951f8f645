"""The Store contract: every test runs on SQLite and on MongoDB (SecantusDB) and must pass on both."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from bcs import errors
from bcs.storage import selectors
from bcs.storage.store import conditions as c
from bcs.storage.store import port

UTC = datetime.UTC


def pod(cluster: str, namespace: str | None, name: str, kind: str = "Pod") -> dict[str, str]:
    key = {"clusterId": cluster, "resourceType": kind, "resourceName": name}
    if namespace is not None:
        key["namespace"] = namespace
    return key


async def names(store: port.Store, where: c.Condition | None, **query: Any) -> list[str]:
    docs = await store.find("Pod", c.Query(where=where, fields=["resourceName"], **query))
    return [d["resourceName"] for d in docs]


# -- upsert ---------------------------------------------------------------------------------------


async def test_upsert_returns_the_stored_document(store: port.Store) -> None:
    data = {"metadata": {"name": "web-1", "labels": {"app": "web"}}, "spec": {"replicas": 2}}
    doc = await store.upsert("Pod", pod("BCS-K8S-1", "default", "web-1"), data)

    assert {k: v for k, v in doc.items() if not k.endswith("Time")} == {
        "clusterId": "BCS-K8S-1",
        "namespace": "default",
        "resourceType": "Pod",
        "resourceName": "web-1",
        "data": data,
        "_isBcsObjectDeleted": False,
    }
    assert doc["createTime"] == doc["updateTime"]
    assert doc["createTime"].tzinfo is not None
    assert doc["createTime"].utcoffset() == datetime.timedelta(0)
    assert doc["createTime"].microsecond % 1000 == 0
    assert abs(datetime.datetime.now(UTC) - doc["createTime"]) < datetime.timedelta(minutes=1)
    assert await store.find("Pod", c.Query()) == [doc]


async def test_cluster_scoped_resources_have_no_namespace(store: port.Store) -> None:
    node = await store.upsert("Pod", pod("BCS-K8S-1", None, "n1"), {"kind": "cluster"})
    namespaced = await store.upsert("Pod", pod("BCS-K8S-1", "default", "n1"), {"kind": "namespaced"})

    assert "namespace" not in node
    assert await store.count("Pod", None) == 2
    (found,) = await store.find("Pod", c.Query(where=c.key_match(pod("BCS-K8S-1", None, "n1"))))
    assert found == node
    (found,) = await store.find("Pod", c.Query(where=c.key_match(pod("BCS-K8S-1", "default", "n1"))))
    assert found == namespaced
    # Writing the cluster-scoped one again updates it, not its namespaced namesake.
    again = await store.upsert("Pod", pod("BCS-K8S-1", None, "n1"), {"kind": "cluster", "v": 2})
    assert again["data"] == {"kind": "cluster", "v": 2}
    assert "namespace" not in again
    assert await store.count("Pod", c.Eq("data.kind", "namespaced")) == 1


async def test_update_replaces_data_keeps_create_time_and_merges_extra(store: port.Store) -> None:
    key = pod("BCS-K8S-1", "default", "web-1")
    first = await store.upsert("Pod", key, {"a": 1, "b": 2}, extra={"source": "watch", "rev": 1})
    second = await store.upsert("Pod", key, {"a": 3}, extra={"rev": 2})
    third = await store.upsert("Pod", key, {"a": 4})

    assert second["data"] == {"a": 3}  # replaced, not merged
    assert second["createTime"] == first["createTime"]
    assert first["updateTime"] < second["updateTime"] < third["updateTime"]
    assert (second["source"], second["rev"]) == ("watch", 2)
    assert (third["source"], third["rev"]) == ("watch", 2)  # extra fields stay until overwritten
    assert await store.find("Pod", c.Query()) == [third]


async def test_extra_cannot_overwrite_reserved_fields(store: port.Store) -> None:
    for name in ("clusterId", "data", "createTime", "_isBcsObjectDeleted"):
        with pytest.raises(errors.BadRequest, match=name):
            await store.upsert("Pod", pod("c", "ns", "x"), {}, extra={name: "evil"})
    assert await store.count("Pod", None, include_deleted=True) == 0


async def test_upsert_without_data_writes_no_data_field(store: port.Store) -> None:
    doc = await store.upsert("custom", {"name": "a", "zone": 1}, None, extra={"spec": {"x": 1}})
    assert "data" not in doc
    assert doc["spec"] == {"x": 1}
    assert (doc["name"], doc["zone"]) == ("a", 1)
    await store.upsert("custom", {"name": "a", "zone": 1}, None, extra={"spec": {"x": 2}})
    assert [d["spec"] for d in await store.find("custom", c.Query())] == [{"x": 2}]


async def test_invalid_collection_name_is_a_bad_request(store: port.Store) -> None:
    for name in ("", "a$b", "system.views"):
        with pytest.raises(errors.BadRequest):
            await store.upsert(name, pod("c", "ns", "x"), {})
        with pytest.raises(errors.BadRequest):
            await store.find(name, c.Query())


# -- soft delete, windows, purge ------------------------------------------------------------------


async def test_soft_delete_of_deleted_ones_too_flags_every_match_again(store: port.Store) -> None:
    keys = [pod("BCS-K8S-1", "default", n) for n in ("a", "b", "c")]
    for key in keys:
        await store.upsert("Pod", key, {"v": 1})
    assert await store.soft_delete("Pod", c.key_match(keys[0])) == 1
    (first,) = await store.find("Pod", c.Query(c.key_match(keys[0]), include_deleted=True))

    named = c.keys_match(keys[:2])
    assert await store.soft_delete("Pod", named, include_deleted=True) == 2
    docs = await store.find("Pod", c.Query(named, include_deleted=True, sort=[("resourceName", 1)]))
    assert [d["_isBcsObjectDeleted"] for d in docs] == [True, True]
    assert docs[0]["updateTime"] > first["updateTime"]  # flagged again
    assert [d["resourceName"] for d in await store.find("Pod", c.Query())] == ["c"]


async def test_soft_delete_hides_and_upsert_revives_with_a_new_create_time(store: port.Store) -> None:
    key = pod("BCS-K8S-1", "default", "web-1")
    created = await store.upsert("Pod", key, {"v": 1})

    assert await store.soft_delete("Pod", c.key_match(key)) == 1
    assert await store.soft_delete("Pod", c.key_match(key)) == 0  # only live documents count
    assert await store.find("Pod", c.Query()) == []
    assert await store.count("Pod", None) == 0
    (deleted,) = await store.find("Pod", c.Query(include_deleted=True))
    assert deleted["_isBcsObjectDeleted"] is True
    assert deleted["updateTime"] > created["updateTime"]
    assert deleted["createTime"] == created["createTime"]

    revived = await store.upsert("Pod", key, {"v": 2})
    assert revived["_isBcsObjectDeleted"] is False
    assert revived["createTime"] > created["createTime"]  # upstream: no live document, new createTime
    assert revived["createTime"] == revived["updateTime"]
    assert await store.find("Pod", c.Query()) == [revived]
    assert await store.count("Pod", None, include_deleted=True) == 1


async def test_delete_window_is_strict_on_update_time(store: port.Store) -> None:
    times = [(await store.upsert("Pod", pod("c", "ns", f"p{i}"), {}))["updateTime"] for i in range(4)]

    assert await store.delete_window("Pod", None, begin=times[0], end=times[2]) == 1  # only p1
    assert await names(store, None) == ["p0", "p2", "p3"]
    assert await store.delete_window("Pod", c.Eq("resourceName", "p0"), begin=None, end=times[3]) == 1
    assert await store.delete_window("Pod", None, begin=times[2], end=None) == 1  # p3, not p2
    assert await names(store, None) == ["p2"]
    assert await store.delete_window("Pod", None, begin=None, end=None) == 1
    assert await store.count("Pod", None) == 0


async def test_purge_removes_documents_for_good(store: port.Store) -> None:
    for i in range(3):
        await store.upsert("Pod", pod("c", "ns", f"p{i}"), {})
    await store.soft_delete("Pod", c.Eq("resourceName", "p0"))

    assert await store.purge("Pod", c.Eq(port.DELETED, True)) == 1
    assert await store.count("Pod", None, include_deleted=True) == 2
    assert await store.purge("Pod", c.Eq("resourceName", "p1")) == 1
    assert await names(store, None) == ["p2"]
    await store.soft_delete("Pod", None)
    assert await store.purge("Pod", None) == 1  # soft-deleted documents are purged too
    assert await store.count("Pod", None, include_deleted=True) == 0


# -- conditions -----------------------------------------------------------------------------------

T0 = datetime.datetime(2024, 1, 1, tzinfo=UTC)
DATASET: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # name, data, extra
    ("a", {"metadata": {"labels": {"app": "web", "tier": "fe"}}, "n": 1, "tags": ["x", "y"]}, {"at": T0}),
    ("b", {"metadata": {"labels": {"app": "web", "tier": "be"}}, "n": 2.5, "tags": ["y"]}, {}),
    ("c", {"metadata": {"labels": {"app": "db", "canary": "true"}}, "n": 3, "tags": []}, {}),
    ("d", {"metadata": {"labels": {}}, "n": "3", "flag": True, "ts": "2024-01-02T00:00:00Z"}, {}),
    (
        "e",
        {"metadata": {}, "n": None, "flag": 1, "ts": "2024-03-01T00:00:00Z"},
        {"at": T0 + datetime.timedelta(hours=1)},
    ),
    ("f", {"n": True, "tags": "x"}, {}),
]
CASES: list[tuple[str, c.Condition, list[str]]] = [
    ("eq nested", c.Eq("data.metadata.labels.app", "web"), ["a", "b"]),
    ("eq typed number", c.Eq("data.n", 3), ["c"]),
    ("eq typed string", c.Eq("data.n", "3"), ["d"]),
    ("eq typed bool", c.Eq("data.n", True), ["f"]),
    ("eq int matches float", c.Eq("data.n", 2.5), ["b"]),
    ("eq true is not 1", c.Eq("data.flag", True), ["d"]),
    ("eq 1 is not true", c.Eq("data.flag", 1), ["e"]),
    ("eq none matches missing and null", c.Eq("data.n", None), ["e"]),
    ("eq none on labels", c.Eq("data.metadata.labels.app", None), ["d", "e", "f"]),
    ("eq array element", c.Eq("data.tags", "y"), ["a", "b"]),
    ("eq scalar or element", c.Eq("data.tags", "x"), ["a", "f"]),
    ("ne matches missing", c.Ne("data.metadata.labels.app", "web"), ["c", "d", "e", "f"]),
    ("ne on arrays", c.Ne("data.tags", "y"), ["c", "d", "e", "f"]),
    ("in", c.In("data.metadata.labels.tier", ["fe", "be", "zz"]), ["a", "b"]),
    ("in mixed types", c.In("data.n", [1, "3", None]), ["a", "d", "e"]),
    ("in empty", c.In("data.n", []), []),
    ("in feature field", c.In("resourceName", ["a", "c", "zz"]), ["a", "c"]),
    ("not in matches missing", c.NotIn("data.metadata.labels.app", ["db"]), ["a", "b", "d", "e", "f"]),
    ("exists", c.Exists("data.metadata.labels.canary"), ["c"]),
    ("exists null", c.Exists("data.n"), ["a", "b", "c", "d", "e", "f"]),
    ("not exists", c.Exists("data.metadata", present=False), ["f"]),
    ("range numbers", c.Range("data.n", gt=1, lte=3), ["b", "c"]),
    ("range numbers skip strings", c.Range("data.n", gte=0), ["a", "b", "c"]),
    ("range strings", c.Range("data.ts", gte="2024-01-01", lt="2024-02"), ["d"]),
    (
        "range datetimes",
        c.Range("at", gt=T0 - datetime.timedelta(seconds=1), lt=T0 + datetime.timedelta(minutes=1)),
        ["a"],
    ),
    ("eq datetime", c.Eq("at", T0 + datetime.timedelta(hours=1)), ["e"]),
    ("and", c.And(c.Eq("data.metadata.labels.app", "web"), c.Ne("data.tags", "x")), ["b"]),
    ("and empty", c.And(), ["a", "b", "c", "d", "e", "f"]),
    ("or", c.Or(c.Eq("data.n", 3), c.Exists("data.flag")), ["c", "d", "e"]),
    ("or empty", c.Or(), []),
    (
        "not or inside and",
        c.And(c.Or(c.Eq("resourceName", "a"), c.Eq("resourceName", "e")), c.Exists("at")),
        ["a", "e"],
    ),
    ("selector", selectors.parse("app in (web,db),tier!=be,!canary"), ["a"]),
    ("selector exists", selectors.parse("tier"), ["a", "b"]),
    ("selector notin", selectors.parse("app notin (web)"), ["c", "d", "e", "f"]),
]


@pytest.mark.parametrize(("what", "where", "expected"), CASES, ids=[case[0] for case in CASES])
async def test_conditions(store: port.Store, what: str, where: c.Condition, expected: list[str]) -> None:
    for name, data, extra in DATASET:
        await store.upsert("Pod", pod("c1", "ns", name), data, extra=extra)
    assert await names(store, where) == expected, what
    assert await store.count("Pod", where) == len(expected)


async def test_reads_never_see_soft_deleted_documents_unless_asked(store: port.Store) -> None:
    for name in "abc":
        await store.upsert("Pod", pod("c1", "ns", name), {"app": "web"})
    await store.soft_delete("Pod", c.Eq("resourceName", "b"))

    assert await names(store, c.Eq("data.app", "web")) == ["a", "c"]
    assert await names(store, c.Eq("data.app", "web"), include_deleted=True) == ["a", "b", "c"]
    assert await store.count("Pod", c.Eq("data.app", "web")) == 2
    assert await store.count("Pod", c.Eq("data.app", "web"), include_deleted=True) == 3
    assert await names(store, c.Eq(port.DELETED, True), include_deleted=True) == ["b"]


async def test_clusters_are_isolated(store: port.Store) -> None:
    for cluster in ("BCS-K8S-1", "BCS-K8S-2"):
        await store.upsert("Pod", pod(cluster, "default", "web"), {"owner": cluster})

    assert await store.count("Pod", None) == 2
    assert await store.soft_delete("Pod", c.key_match(pod("BCS-K8S-1", "default", "web"))) == 1
    (left,) = await store.find("Pod", c.Query())
    assert left["clusterId"] == "BCS-K8S-2"
    assert left["data"] == {"owner": "BCS-K8S-2"}
    await store.upsert("Pod", pod("BCS-K8S-2", "default", "web"), {"owner": "again"})
    assert await store.count("Pod", c.Eq("clusterId", "BCS-K8S-1"), include_deleted=True) == 1
    assert await store.purge("Pod", c.Eq("clusterId", "BCS-K8S-2")) == 1
    assert await store.count("Pod", None, include_deleted=True) == 1


# -- keys that Mongo and JSON paths dislike ------------------------------------------------------

AWKWARD = {
    "metadata": {
        "annotations": {"kubernetes.io/created-by": "x", "$ref": "y", "a$b.c": {"$set": [{"$in": "."}]}},
        "labels": {"app.kubernetes.io/name": "web"},
    },
    "": {"empty key": 1},
    "\uff05": "our escape character",
    "\uff0524": "looks escaped",
    'quote"key': 1,
    "back\\slash": 2,
    "tab\tkey": 3,
    "it's": 4,
    "$": {".": {"..": "$$"}},
}


async def test_keys_with_dollars_dots_and_quotes_round_trip(store: port.Store) -> None:
    doc = await store.upsert("Pod", pod("c", "ns", "x"), AWKWARD)
    assert doc["data"] == AWKWARD
    (found,) = await store.find("Pod", c.Query())
    assert found["data"] == AWKWARD

    label = ("data", "metadata", "labels", "app.kubernetes.io/name")
    assert await names(store, c.Eq(label, "web")) == ["x"]
    assert await names(store, selectors.parse("app.kubernetes.io/name=web")) == ["x"]
    assert await names(store, c.Eq(("data", "$", ".", ".."), "$$")) == ["x"]
    assert await names(store, c.Eq(("data", 'quote"key'), 1)) == ["x"]
    assert await names(store, c.Eq(("data", "it's"), 4)) == ["x"]
    assert await names(store, c.Exists(("data", "", "empty key"))) == ["x"]
    projected = await store.find("Pod", c.Query(fields=[("data", "metadata", "annotations", "a$b.c")]))
    assert projected == [{"data": {"metadata": {"annotations": {"a$b.c": {"$set": [{"$in": "."}]}}}}}]


# -- projection, sort, paging ---------------------------------------------------------------------


async def test_projection_keeps_only_the_named_paths(store: port.Store) -> None:
    await store.upsert("Pod", pod("c", "ns", "a"), {"metadata": {"name": "a", "uid": "1"}, "spec": {"x": 1}})
    await store.upsert("Pod", pod("c", "ns", "b"), {"spec": {"x": 2}})
    await store.upsert(
        "Pod", pod("c", "ns", "c"), {"metadata": 5, "items": [{"name": "i", "v": 1}, 7, {"v": 2}]}
    )

    got = await store.find("Pod", c.Query(fields=["data.metadata.name", "resourceName"]))
    assert got == [
        {"resourceName": "a", "data": {"metadata": {"name": "a"}}},
        {"resourceName": "b", "data": {}},  # the parent object exists, the leaf does not
        {"resourceName": "c", "data": {}},  # a scalar on the way: the field is dropped
    ]
    got = await store.find("Pod", c.Query(where=c.Eq("resourceName", "c"), fields=["data.items.name"]))
    assert got == [{"data": {"items": [{"name": "i"}, {}]}}]
    # A path inside another listed path adds nothing.
    got = await store.find("Pod", c.Query(where=c.Eq("resourceName", "a"), fields=["data", "data.spec"]))
    assert got == [{"data": {"metadata": {"name": "a", "uid": "1"}, "spec": {"x": 1}}}]
    assert await store.find("Pod", c.Query(fields=["nothing.here"])) == [{}, {}, {}]


async def test_sort_and_paging_are_consistent(store: port.Store) -> None:
    replicas = [3, 1, 4, 1, 5, 9, 2, 6]
    for i, r in enumerate(replicas):
        await store.upsert("Pod", pod("c", "ns", f"p{i}"), {"replicas": r, "group": i % 2})

    # No sort: creation order. Ties: creation order too, whatever the direction.
    assert await names(store, None) == [f"p{i}" for i in range(8)]
    by_desc = await names(store, None, sort=[("data.replicas", -1)])
    assert by_desc == ["p5", "p7", "p4", "p2", "p0", "p6", "p1", "p3"]
    by_two = await names(store, None, sort=[("data.group", 1), ("data.replicas", 1)])
    assert by_two == ["p6", "p0", "p2", "p4", "p1", "p3", "p7", "p5"]

    pages = []
    for offset in range(0, 9, 3):
        pages.append(await names(store, None, sort=[("data.replicas", -1)], offset=offset, limit=3))
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [n for page in pages for n in page] == by_desc
    assert await names(store, None, sort=[("data.replicas", -1)], offset=7) == ["p3"]
    assert await names(store, None, offset=20) == []
    assert await names(store, None, limit=0) == []
    where = c.Range("data.replicas", gte=3)
    assert await names(store, where, sort=[("resourceName", -1)], offset=1, limit=2) == ["p5", "p4"]
    assert await store.count("Pod", where) == 5


async def test_sort_orders_types_as_mongo_does(store: port.Store) -> None:
    values: list[tuple[str, Any]] = [
        ("missing", ...), ("null", None), ("two", 2), ("one-half", 1.5), ("b", "b"), ("a", "a"),
        ("object", {"x": 1}), ("false", False), ("true", True), ("date", T0), ("negative", -3),
    ]  # fmt: skip
    for name, value in values:
        await store.upsert("Pod", pod("c", "ns", name), {}, extra={} if value is ... else {"v": value})
    expected = ["missing", "null", "negative", "one-half", "two", "a", "b", "object", "false", "true", "date"]
    assert await names(store, None, sort=[("v", 1)]) == expected
    # Descending: reversed, except that ties (missing = null) keep creation order.
    assert await names(store, None, sort=[("v", -1)]) == [*expected[:1:-1], "missing", "null"]


# -- datetimes ------------------------------------------------------------------------------------


async def test_datetimes_round_trip_in_utc_milliseconds(store: port.Store) -> None:
    local = datetime.datetime(
        2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
    )
    doc = await store.upsert("Pod", pod("c", "ns", "x"), {}, extra={"seen": local, "nested": {"at": [local]}})
    expected = datetime.datetime(2024, 5, 5, 23, 8, 9, 123000, tzinfo=UTC)
    (found,) = await store.find("Pod", c.Query())
    for got in (doc, found):
        assert got["seen"] == expected
        assert got["seen"].utcoffset() == datetime.timedelta(0)
        assert got["nested"] == {"at": [expected]}
    assert await store.count("Pod", c.Range("seen", gte=expected, lte=expected)) == 1
    assert await store.count("Pod", c.Range("seen", gt=expected)) == 0
    assert await store.count("Pod", c.Eq("nested.at", expected)) == 1  # an array element


# -- bulk -----------------------------------------------------------------------------------------


async def test_upsert_many_follows_upsert_semantics(store: port.Store) -> None:
    live = await store.upsert("Pod", pod("c", "ns", "live"), {"v": 0})
    gone = await store.upsert("Pod", pod("c", "ns", "gone"), {"v": 0})
    await store.soft_delete("Pod", c.Eq("resourceName", "gone"))

    items = [port.Upsert(pod("c", "ns", n), {"v": 1}) for n in ("live", "gone", "new")]
    items.append(port.Upsert(pod("c", None, "node"), {"v": 1}, extra={"x": 1}))
    stamps = await store.upsert_many("Pod", items)
    assert await store.upsert_many("Pod", []) == []

    docs = {d["resourceName"]: d for d in await store.find("Pod", c.Query())}
    assert set(docs) == {"live", "gone", "new", "node"}
    # It tells each document's stored times (what a read-back would see).
    names = ("live", "gone", "new", "node")
    assert stamps == [{k: docs[n][k] for k in ("createTime", "updateTime")} for n in names]
    assert len({d["updateTime"] for d in docs.values()}) == 1  # one batch, one updateTime
    stamp = docs["new"]["updateTime"]
    assert docs["live"]["createTime"] == live["createTime"] < stamp
    assert docs["gone"]["createTime"] == stamp > gone["createTime"]
    assert docs["new"]["createTime"] == stamp
    assert docs["node"]["createTime"] == stamp
    assert all(d["data"] == {"v": 1} for d in docs.values())
    assert "namespace" not in docs["node"]
    assert docs["node"]["x"] == 1


async def test_an_upsert_key_matches_an_array_field_once_one_holds_arrays(store: port.Store) -> None:
    # The first upserts look "name" up as a plain field; once a document holds an array there, an
    # upsert by name matches that document through the array, as a Mongo filter does.
    await store.upsert("Tag", {"name": "a"}, {"v": 1})
    await store.upsert("Tag", {"name": "b"}, {"v": 1})
    await store.upsert("Tag", {"other": "x"}, None, extra={"name": ["c", "d"]})
    revised = await store.upsert("Tag", {"name": "d"}, {"v": 2})
    assert (revised["name"], revised["other"]) == (["c", "d"], "x")
    await store.upsert("Tag", {"name": "a"}, {"v": 3})

    docs = await store.find("Tag", c.Query(None))
    assert [(d["name"], d.get("data")) for d in docs] == [
        ("a", {"v": 3}),
        ("b", {"v": 1}),
        (["c", "d"], {"v": 2}),
    ]


async def test_upsert_many_of_one_item_tells_the_same_times(store: port.Store) -> None:
    first = await store.upsert("Pod", pod("c", "ns", "one"), {"v": 0})
    (kept,) = await store.upsert_many("Pod", [port.Upsert(pod("c", "ns", "one"), {"v": 1})])
    assert kept["createTime"] == first["createTime"] < kept["updateTime"]
    await store.soft_delete("Pod", c.Eq("resourceName", "one"))
    (revived,) = await store.upsert_many("Pod", [port.Upsert(pod("c", "ns", "one"), {"v": 2})])
    (doc,) = await store.find("Pod", c.Query())
    assert revived == {"createTime": doc["createTime"], "updateTime": doc["updateTime"]}
    assert revived["createTime"] == revived["updateTime"] > kept["updateTime"]
    assert doc["data"] == {"v": 2}


async def test_a_thousand_documents(store: port.Store) -> None:
    items = [
        port.Upsert(
            pod(f"BCS-K8S-{i % 2}", f"ns{i % 5}", f"pod-{i:04d}"),
            {"metadata": {"labels": {"app": f"app{i % 10}", "shard": str(i % 3)}}, "seq": i},
        )
        for i in range(1000)
    ]
    assert len(await store.upsert_many("Pod", items)) == 1000
    assert len(await store.upsert_many("Pod", items[:10])) == 10  # updates, not duplicates

    assert await store.count("Pod", None) == 1000
    where = c.And(c.Eq("clusterId", "BCS-K8S-1"), selectors.parse("app in (app1,app3),shard!=0"))
    expected = [i for i in range(1000) if i % 2 == 1 and i % 10 in (1, 3) and i % 3 != 0]
    assert await store.count("Pod", where) == len(expected)
    got = await store.find("Pod", c.Query(where=where, sort=[("data.seq", -1)], offset=5, limit=20))
    assert [d["data"]["seq"] for d in got] == sorted(expected, reverse=True)[5:25]
    assert await store.soft_delete("Pod", c.Eq("namespace", "ns0")) == 200
    assert await store.count("Pod", None) == 800


async def test_long_lists_of_names_read_and_write_each_object_once_in_creation_order(
    store: port.Store,
) -> None:
    # More names than a Mongo-wire request carries in one `$in` (they go out in pieces).
    await store.upsert_many("Pod", [port.Upsert(pod("c", "ns", f"p{i:03d}"), {"i": i}) for i in range(150)])
    wanted = [f"p{i:03d}" for i in range(149, -1, -2)] * 2 + ["missing"]  # repeated, reversed
    named = c.And(c.Eq("clusterId", "c"), c.Eq("namespace", "ns"), c.In("resourceName", wanted))

    assert await names(store, named) == [f"p{i:03d}" for i in range(1, 150, 2)]  # creation order
    assert [d["data"]["i"] for d in await store.find("Pod", c.Query(where=named))] == list(range(1, 150, 2))
    assert await store.count("Pod", named) == 75
    # Bounded or sorted reads stay one query, and agree.
    assert await names(store, named, sort=[("resourceName", -1)], limit=3) == ["p149", "p147", "p145"]
    assert await names(store, named, offset=70) == ["p141", "p143", "p145", "p147", "p149"]

    assert await store.soft_delete("Pod", named) == 75
    assert await store.soft_delete("Pod", named) == 0
    assert await store.count("Pod", None) == 75
    assert await store.count("Pod", named, include_deleted=True) == 75
    assert await store.purge("Pod", named) == 75
    assert await store.count("Pod", None, include_deleted=True) == 75


# -- indexes and collections ----------------------------------------------------------------------

FEATURE_KEYS = tuple(((f,), 1) for f in c.FEATURE_FIELDS)


async def test_first_write_creates_the_feature_and_deletion_indexes(store: port.Store) -> None:
    assert await store.list_indexes("Pod") == []
    await store.upsert("Pod", pod("c", "ns", "x"), {})
    assert await store.list_indexes("Pod") == [
        port.IndexInfo("Pod_idx", FEATURE_KEYS, unique=True),
        port.IndexInfo(port.DELETED_INDEX, ((("_isBcsObjectDeleted",), 1),)),
    ]


async def test_ensure_and_drop_indexes(store: port.Store) -> None:
    await store.ensure_index("custom", "by_uid", [("data.metadata.uid", 1), ("updateTime", -1)])
    await store.ensure_index("custom", "by_uid", [("data.metadata.uid", 1), ("updateTime", -1)])  # no-op
    assert "custom" in await store.collections()
    info = port.IndexInfo("by_uid", ((("data", "metadata", "uid"), 1), (("updateTime",), -1)))
    assert await store.list_indexes("custom") == [info]

    with pytest.raises(errors.Conflict):  # same name, other keys
        await store.ensure_index("custom", "by_uid", [("data.metadata.uid", 1)])
    with pytest.raises(errors.Conflict):  # same keys, other name
        await store.ensure_index("custom", "other", [("data.metadata.uid", 1), ("updateTime", -1)])
    with pytest.raises(errors.BadRequest):
        await store.ensure_index("custom", "bad", [("x", 2)])
    await store.ensure_index("custom", "dotted", [(("data", "labels", "app.kubernetes.io/name"), 1)])
    assert [i.name for i in await store.list_indexes("custom")] == ["by_uid", "dotted"]
    assert (await store.list_indexes("custom"))[1].keys == (
        (("data", "labels", "app.kubernetes.io/name"), 1),
    )

    await store.drop_index("custom", "by_uid")
    assert [i.name for i in await store.list_indexes("custom")] == ["dotted"]
    with pytest.raises(errors.NotFound):
        await store.drop_index("custom", "by_uid")
    with pytest.raises(errors.NotFound):
        await store.drop_index("missing", "by_uid")


async def test_unique_indexes_refuse_duplicates(store: port.Store) -> None:
    await store.ensure_index("custom", "uid", [("data.uid", 1)], unique=True)
    await store.upsert("custom", pod("c", "ns", "a"), {"uid": "u1"})
    with pytest.raises(errors.Conflict):
        await store.upsert("custom", pod("c", "ns", "b"), {"uid": "u1"})
    with pytest.raises(errors.Conflict):
        await store.upsert_many("custom", [port.Upsert(pod("c", "ns", "b"), {"uid": "u1"})])
    assert await names_in(store, "custom") == ["a"]
    # As in Mongo, a missing field is a value too: two documents without it collide.
    await store.upsert("custom", pod("c", "ns", "c"), {})
    with pytest.raises(errors.Conflict):
        await store.upsert("custom", pod("c", "ns", "d"), {})
    # Building a unique index over colliding documents fails and leaves no index behind.
    await store.upsert("other", pod("c", "ns", "e"), {"zone": "z"})
    await store.upsert("other", pod("c", "ns", "f"), {"zone": "z"})
    with pytest.raises(errors.Conflict):
        await store.ensure_index("other", "zone", [("data.zone", 1)], unique=True)
    assert "zone" not in {i.name for i in await store.list_indexes("other")}
    await store.upsert("other", pod("c", "ns", "g"), {"zone": "z"})  # the collection still works


async def names_in(store: port.Store, collection: str) -> list[str]:
    return [d["resourceName"] for d in await store.find(collection, c.Query(fields=["resourceName"]))]


async def test_collections_and_missing_collections(store: port.Store) -> None:
    assert await store.collections() == []
    assert await store.find("Nope", c.Query()) == []
    assert await store.count("Nope", None) == 0
    assert await store.soft_delete("Nope", None) == 0
    assert await store.purge("Nope", None) == 0
    assert await store.list_indexes("Nope") == []
    for kind in ("Service", "Deployment", "Pod"):
        await store.upsert(kind, pod("c", "ns", "x", kind), {})
    await store.purge("Pod", None)
    assert await store.collections() == ["Deployment", "Pod", "Service"]


async def test_ping_answers(store: port.Store) -> None:
    await store.ping()
    assert store.name == "store"
