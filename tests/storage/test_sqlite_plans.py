"""The SQLite store's conditions use its indexes (EXPLAIN QUERY PLAN, on the store's own file), and
its record of which top-level fields hold arrays survives reopening and follows other writers."""

from __future__ import annotations

import json
import pathlib
import sqlite3

from bcs import config
from bcs.core import bus as bus_port
from bcs.core import tasks
from bcs.storage import outbox
from bcs.storage.service import core, documents, records
from bcs.storage.store import conditions as c
from bcs.storage.store import port, sqlsearch
from tests.services import eventually


def _plan(file: pathlib.Path, collection: str, where: c.Condition, *, include_deleted: bool = True) -> str:
    """The query plan of ``SELECT ... WHERE where`` as the store compiles it for ``collection``."""
    with sqlite3.connect(file) as conn:
        cid, arrays = conn.execute(
            "SELECT id, arrays FROM bcs_collections WHERE name = ?", (collection,)
        ).fetchone()
        sql, params = sqlsearch.where(where, arrays=json.loads(arrays), include_deleted=include_deleted)
        rows = conn.execute(f"EXPLAIN QUERY PLAN SELECT doc FROM c{cid} WHERE {sql}", params).fetchall()
    return " | ".join(row[-1] for row in rows)


def _indexed(plan: str) -> bool:
    return "USING INDEX" in plan and "SCAN c" not in plan


async def _service(tmp_path: pathlib.Path) -> tuple[port.Store, bus_port.Bus, core.StorageService]:
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    bus = bus_port.open_bus(config.BusSettings())
    await store.start()
    await bus.start()
    service = core.StorageService(store, bus, settings=config.StorageSettings(), exchange="bcs-storage")
    return store, bus, service


async def test_outbox_resource_and_event_queries_use_indexes(tmp_path: pathlib.Path) -> None:
    store, bus, service = await _service(tmp_path)
    drainer = tasks.create_guarded_task(name="test.outbox", coro=service.outbox.run())
    try:
        pods = [
            documents.Resource(cluster_id="c1", resource_type="Pod", name=f"p{i}", namespace="ns", data={})
            for i in range(3)
        ]
        await service.put_resources(pods)
        node = documents.Resource(cluster_id="c1", resource_type="Node", name="n1", data={})
        await service.put_resource(node)
        await service.events.put(
            {"clusterId": "c1", "data": {"metadata": {"name": "e", "resourceVersion": "1"}}}
        )
        await eventually(lambda: service.outbox.published >= 6, what="the changes published")
    finally:
        await tasks.stop_tasks([drainer])
    file = tmp_path / "store.sqlite3"
    owner = service.outbox.owner
    queries = {
        # The outbox: record/upsert by id, delete after publishing, the backlog, the hand-over count.
        "outbox id": (outbox.OUTBOX, c.key_match({"id": f"{owner}:1"})),
        "outbox purge": (outbox.OUTBOX, c.In("id", [f"{owner}:1", f"{owner}:2"])),
        "outbox backlog": (outbox.OUTBOX, c.And(c.Eq("owner", owner), c.In("state", ["ready", "verify"]))),
        "outbox owner": (outbox.OUTBOX, c.Eq("owner", owner)),
        # Resources: a namespaced and a cluster-scoped key, a bulk delete, a cluster's list.
        "pod key": ("Pod", c.key_match(pods[0].key())),
        "node key": ("Node", c.key_match(node.key())),
        "pods by name": ("Pod", c.keys_match([p.key() for p in pods])),
        "cluster": ("Pod", c.Eq("clusterId", "c1")),
        # Events are looked up by their key on every write.
        "event key": (documents.EVENTS, c.key_match({"clusterId": "c1", "eventKey": "e/1"})),
    }
    for what, (collection, where) in queries.items():
        plan = _plan(file, collection, where)
        assert _indexed(plan), f"{what}: {plan}"
    # The index names are the ones the outbox and the events asked for.
    names = {i.name for i in await store.list_indexes(outbox.OUTBOX)}
    assert names >= {"outbox_id", "outbox_owner_state_seq"}
    assert records.EVENT_KEY_INDEX in {i.name for i in await store.list_indexes(documents.EVENTS)}
    # A condition that can hold arrays cannot use the index: it scans (and still means the same).
    await store.upsert("Pod", {"id": "odd"}, None, extra={"tags": ["x"]})
    await store.ensure_index("Pod", "tags", [("tags", 1)])
    assert not _indexed(_plan(file, "Pod", c.Eq("tags", "x")))
    assert _indexed(_plan(file, "Pod", c.Eq("clusterId", "c1")))
    await bus.close()
    await store.close()


async def test_array_fields_are_remembered_and_followed(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "store.sqlite3"
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    await store.start()
    await store.upsert("Pod", {"id": "a"}, None, extra={"role": "x"})
    await store.upsert("Pod", {"id": "b"}, None, extra={"role": ["x", "y"]})
    await store.close()

    # Reopened: the record is in the file.
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    await store.start()
    assert [d["id"] for d in await store.find("Pod", c.Query(c.Eq("role", "y")))] == ["b"]

    # Another connection writes an array where there was none: this store sees it.
    assert [d["id"] for d in await store.find("Pod", c.Query(c.Eq("id", "a")))] == ["a"]
    other = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    await other.start()
    await other.upsert("Pod", {"id": "c"}, None, extra={"role": "z", "id2": ["a"]})
    await other.close()
    assert [d["id"] for d in await store.find("Pod", c.Query(c.Eq("id2", "a")))] == ["c"]
    await store.close()

    # A file from before the record (arrays unknown): looked up once, then used.
    with sqlite3.connect(file) as conn:
        conn.execute("UPDATE bcs_collections SET arrays = NULL")
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    await store.start()
    try:
        assert [d["id"] for d in await store.find("Pod", c.Query(c.Eq("role", "y")))] == ["b"]
        with sqlite3.connect(file) as conn:
            (arrays,) = conn.execute("SELECT arrays FROM bcs_collections WHERE name = 'Pod'").fetchone()
        assert json.loads(arrays) == ["id2", "role"]
    finally:
        await store.close()
