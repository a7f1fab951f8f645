"""More of the Store contract (SQLite and MongoDB alike): conditions on top-level fields (which SQLite
compiles to indexable SQL while no document holds an array there), bulk inserts, pages with their
total, and naming many resources at once."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from bcs import errors
from bcs.storage.store import conditions as c
from bcs.storage.store import port
from tests.storage.test_contract import names, pod

UTC = datetime.UTC
T0 = datetime.datetime(2024, 1, 1, tzinfo=UTC)

# Top-level fields (beside the key): `n` of every type, `flag`, `ts` strings; `tags` holds arrays.
TOP: list[tuple[str, dict[str, Any]]] = [
    ("a", {"n": 1, "tags": ["x", "y"], "at": T0}),
    ("b", {"n": 2.5, "tags": ["y"]}),
    ("c", {"n": 3, "tags": []}),
    ("d", {"n": "3", "flag": True, "ts": "2024-01-02T00:00:00Z"}),
    ("e", {"n": None, "flag": 1, "ts": "2024-03-01T00:00:00Z", "at": T0 + datetime.timedelta(hours=1)}),
    ("f", {"n": True, "tags": "x", "flag": False}),
]
TOP_CASES: list[tuple[str, c.Condition, list[str]]] = [
    ("eq typed number", c.Eq("n", 3), ["c"]),
    ("eq typed string", c.Eq("n", "3"), ["d"]),
    ("eq typed bool", c.Eq("n", True), ["f"]),
    ("eq float", c.Eq("n", 2.5), ["b"]),
    ("eq int matches float", c.Eq("n", 2.5 + 0.5), ["c"]),
    ("eq true is not 1", c.Eq("flag", True), ["d"]),
    ("eq false is not 0", c.Eq("flag", False), ["f"]),
    ("eq 1 is not true", c.Eq("flag", 1), ["e"]),
    ("eq none matches missing and null", c.Eq("n", None), ["e"]),
    ("eq none on a sometimes missing field", c.Eq("flag", None), ["a", "b", "c"]),
    ("in mixed types", c.In("n", [1, "3", None, False]), ["a", "d", "e"]),
    ("in bools and numbers", c.In("flag", [True, 0]), ["d"]),
    ("ne matches missing", c.Ne("flag", True), ["a", "b", "c", "e", "f"]),
    ("not in", c.NotIn("n", [1, 3, None]), ["b", "d", "f"]),
    ("exists", c.Exists("flag"), ["d", "e", "f"]),
    ("not exists", c.Exists("flag", present=False), ["a", "b", "c"]),
    ("not exists null", c.Exists("n", present=False), []),
    ("range numbers", c.Range("n", gt=1, lte=3), ["b", "c"]),
    ("range strings", c.Range("ts", gte="2024-01-01", lt="2024-02"), ["d"]),
    ("range skips other types", c.Range("flag", gte=0), ["e"]),
    ("eq datetime", c.Eq("at", T0), ["a"]),
    ("array element", c.Eq("tags", "y"), ["a", "b"]),
    ("scalar or element", c.In("tags", ["x"]), ["a", "f"]),
    ("ne on arrays", c.Ne("tags", "y"), ["c", "d", "e", "f"]),
]


@pytest.mark.parametrize(("what", "where", "expected"), TOP_CASES, ids=[case[0] for case in TOP_CASES])
async def test_conditions_on_top_level_fields(
    store: port.Store, what: str, where: c.Condition, expected: list[str]
) -> None:
    for name, extra in TOP:
        await store.upsert("Pod", pod("c1", "ns", name), {}, extra=extra)
    assert await names(store, where) == expected, what
    assert await store.count("Pod", where) == len(expected)


async def test_a_field_that_becomes_an_array_matches_by_element(store: port.Store) -> None:
    for name in ("a", "b"):
        await store.upsert("Pod", pod("c1", "ns", name), {}, extra={"owner": name, "role": "x"})
    assert await names(store, c.Eq("role", "x")) == ["a", "b"]
    # The first array in `role`: the same conditions now look into it (and nothing else changes).
    await store.upsert("Pod", pod("c1", "ns", "c"), {}, extra={"owner": "c", "role": ["y", "x"]})
    assert await names(store, c.Eq("role", "x")) == ["a", "b", "c"]
    assert await names(store, c.In("role", ["y"])) == ["c"]
    assert await names(store, c.NotIn("role", ["y"])) == ["a", "b"]
    assert await names(store, c.Eq("owner", "c")) == ["c"]
    # The same through the bulk write.
    await store.upsert_many("Pod", [port.Upsert(pod("c1", "ns", "d"), {}, {"owner": ["d", "e"]})])
    assert await names(store, c.Eq("owner", "e")) == ["d"]


async def test_insert_many_writes_new_documents(store: port.Store) -> None:
    await store.insert_many("_things", [])
    items = [port.Upsert({"id": f"t{i}"}, {"v": i}, {"seq": i}) for i in range(3)]
    await store.insert_many("_things", items)
    docs = await store.find("_things", c.Query(sort=[("seq", 1)]))
    assert [(d["id"], d["data"], d["seq"], d[port.DELETED]) for d in docs] == [
        ("t0", {"v": 0}, 0, False),
        ("t1", {"v": 1}, 1, False),
        ("t2", {"v": 2}, 2, False),
    ]
    assert len({(d["createTime"], d["updateTime"]) for d in docs}) == 1
    assert docs[0]["createTime"] == docs[0]["updateTime"]
    # As for an upsert: the first write prepared the deletion-flag index; a unique one refuses a repeat.
    await store.ensure_index("_things", "things_id", [("id", 1)], unique=True)
    with pytest.raises(errors.Conflict):
        await store.insert_many("_things", [port.Upsert({"id": "t1"}, {"v": 9})])
    (t1,) = await store.find("_things", c.Query(c.Eq("id", "t1")))
    assert t1["data"] == {"v": 1}
    with pytest.raises(errors.BadRequest):
        await store.insert_many("_things", [port.Upsert({"id": "t9"}, {}, {"data": 1})])


async def test_find_page_counts_every_match(store: port.Store) -> None:
    await store.upsert_many("Pod", [port.Upsert(pod("c1", "ns", f"p{i}"), {"i": i}) for i in range(7)])
    await store.soft_delete("Pod", c.Eq("resourceName", "p6"))
    where = c.Eq("namespace", "ns")

    async def page(**query: Any) -> tuple[list[str], int]:
        docs, total = await store.find_page("Pod", c.Query(where, fields=["resourceName"], **query))
        return [d["resourceName"] for d in docs], total

    assert await page(limit=3) == (["p0", "p1", "p2"], 6)  # a full page: counted
    assert await page(offset=3, limit=3) == (["p3", "p4", "p5"], 6)
    assert await page(offset=4, limit=3) == (["p4", "p5"], 6)  # the last page tells
    assert await page(offset=9, limit=3) == ([], 6)  # past the end
    assert await page(limit=0) == ([], 6)
    assert await page() == (["p0", "p1", "p2", "p3", "p4", "p5"], 6)
    assert await page(include_deleted=True, offset=6) == (["p6"], 7)
    assert await store.find_page("Nothing", c.Query(limit=5)) == ([], 0)
    docs, total = await store.find_page("Pod", c.Query(c.Eq("data.i", 2), limit=5))
    assert ([d["resourceName"] for d in docs], total) == (["p2"], 1)


async def test_keys_match_names_exactly_the_resources(store: port.Store) -> None:
    keys = [pod("c1", "a", "x"), pod("c1", "a", "y"), pod("c1", "b", "x"), pod("c2", "a", "x")]
    keys += [pod("c1", None, "x", "Pod"), pod("c1", None, "z", "Pod")]
    await store.upsert_many("Pod", [port.Upsert(k, {}) for k in keys])
    await store.upsert("Pod", {"clusterId": "c1", "id": "other"}, {})

    assert await store.count("Pod", c.keys_match([])) == 0
    chosen = [pod("c1", "a", "x"), pod("c1", "a", "y"), pod("c1", None, "x"), pod("c1", "b", "nope")]
    chosen.append({"clusterId": "c1", "id": "other"})
    docs = await store.find("Pod", c.Query(c.keys_match(chosen)))
    fields = ("clusterId", "namespace", "resourceName", "id")
    got = sorted(tuple(d.get(f, "-") for f in fields) for d in docs)
    assert got == [
        ("c1", "-", "-", "other"),
        ("c1", "-", "x", "-"),
        ("c1", "a", "x", "-"),
        ("c1", "a", "y", "-"),
    ]
    assert await store.soft_delete("Pod", c.keys_match([pod("c1", None, "z")])) == 1
    assert await store.count("Pod", None) == 6


async def test_update_many_sets_fields_on_existing_documents_and_creates_none(store: port.Store) -> None:
    assert await store.update_many("Jobs", [port.Upsert({"id": "a"}, None, {"state": "x"})]) == 0
    await store.upsert("Jobs", {"id": "a"}, {"v": 1}, extra={"state": "new", "keep": 1})
    await store.upsert("Jobs", {"id": "gone"}, {"v": 1}, extra={"state": "new"})
    await store.soft_delete("Jobs", c.Eq("id", "gone"))
    before = (await store.find("Jobs", c.Query(c.Eq("id", "a"))))[0]
    updated = await store.update_many(
        "Jobs",
        [
            port.Upsert({"id": "a"}, None, {"state": "ready", "tags": ["t"]}),
            port.Upsert({"id": "missing"}, {"v": 9}, {"state": "ready"}),
            port.Upsert({"id": "gone"}, None, {"state": "ready"}),
        ],
    )
    assert updated == 2  # "a" and the soft-deleted "gone"; "missing" is not created
    docs = {d["id"]: d for d in await store.find("Jobs", c.Query(include_deleted=True))}
    assert set(docs) == {"a", "gone"}
    a = docs["a"]
    assert (a["state"], a["keep"], a["data"], a["tags"]) == ("ready", 1, {"v": 1}, ["t"])
    assert a["createTime"] == before["createTime"]
    assert a["updateTime"] >= before["updateTime"]
    assert docs["gone"]["state"] == "ready"
    assert docs["gone"][port.DELETED] is True  # updated, still deleted
    assert [d["id"] for d in await store.find("Jobs", c.Query(c.Eq("tags", "t")))] == ["a"]
    # Data is replaced when given, reserved names are refused before anything is written.
    assert await store.update_many("Jobs", [port.Upsert({"id": "a"}, {"v": 2})]) == 1
    assert (await store.find("Jobs", c.Query(c.Eq("id", "a"))))[0]["data"] == {"v": 2}
    with pytest.raises(errors.BadRequest):
        await store.update_many("Jobs", [port.Upsert({"id": "a"}, None, {"createTime": 1})])
    assert await store.update_many("Jobs", []) == 0
