"""Custom resources and their indexes on both stores."""

from __future__ import annotations

from typing import Any

from .conftest import PREFIX
from .test_dynamic import ok

CUSTOM = f"{PREFIX}/dynamic/customresources/BcsLogConfig"


async def test_put_upserts_on_the_unique_index(client: Any) -> None:
    await ok(
        await client.put(f"{CUSTOM}/index/by_name", json={"key": {"clusterId": 1, "name": 1}, "unique": True})
    )
    await ok(await client.put(CUSTOM, json={"data": {"clusterId": "c1", "name": "a", "level": 1}}))
    await ok(await client.put(CUSTOM, json={"data": {"clusterId": "c1", "name": "b", "level": 1}}))
    await ok(await client.put(CUSTOM, json={"data": {"clusterId": "c2", "name": "a", "level": 1}}))
    # Same unique key: an update, not a second document.
    await ok(await client.put(CUSTOM, json={"data": {"clusterId": "c1", "name": "a", "level": 2}}))

    body = await ok(await client.get(CUSTOM, params={"clusterId": "c1", "field": "name,level"}))
    assert body["data"] == [{"name": "a", "level": 2}, {"name": "b", "level": 1}]
    assert (body["total"], body["pageSize"], body["offset"]) == (2, 3000, 0)

    body = await ok(await client.get(CUSTOM, params={"clusterId": "c1,c2", "limit": 1, "offset": 1}))
    assert [(d["clusterId"], d["name"]) for d in body["data"]] == [("c1", "b")]
    assert (body["total"], body["pageSize"], body["offset"]) == (3, 1, 1)

    body = await ok(await client.delete(CUSTOM, params={"name": "a"}))
    assert body["data"] == {"deleted": 2}
    body = await ok(await client.get(CUSTOM))
    assert [d["name"] for d in body["data"]] == ["b"]


async def test_without_unique_index_identical_documents_are_one(client: Any) -> None:
    doc = {"clusterId": "c1", "kind": "rule", "data": {"x": [1, 2]}}
    await ok(await client.put(CUSTOM, json={"data": doc}))
    await ok(await client.put(CUSTOM, json={"data": doc}))
    body = await ok(await client.get(CUSTOM))
    assert body["total"] == 1
    assert body["data"][0]["data"] == {"x": [1, 2]}


async def test_index_management(client: Any) -> None:
    await ok(await client.put(f"{CUSTOM}/index/i1", json={"data": {"key": {"spec.a": -1}}}))
    await ok(await client.put(f"{CUSTOM}/index/i1", json={"data": {"key": {"spec.a": -1}}}))  # idempotent
    resp = await client.put(f"{CUSTOM}/index/i1", json={"key": {"other": 1}})
    assert resp.status == 409
    await ok(await client.delete(f"{CUSTOM}/index/i1"))
    resp = await client.delete(f"{CUSTOM}/index/i1")
    body = await resp.json()
    assert (resp.status, body["code"]) == (404, 1405087)
    resp = await client.put(f"{CUSTOM}/index/i2", json={"key": {"a": 2}})
    assert resp.status == 400
    assert "direction" in (await resp.json())["message"]


async def test_put_needs_a_key_and_an_object(client: Any) -> None:
    for body in ({"data": []}, {"data": {"only": {"nested": 1}}}, [1]):
        resp = await client.put(CUSTOM, json=body)
        assert resp.status == 400, body
    assert (await ok(await client.get(CUSTOM)))["data"] == []
