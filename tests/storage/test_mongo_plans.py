"""The MongoDB store's write path is served by indexes: every query the storage service sends while
writing, deleting and publishing is explained on the real MongoDB-wire server, and none scans a
resource collection or the outbox's hot path (``COLLSCAN``)."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pymongo
import pytest
from pymongo import monitoring

from bcs import config
from bcs.core import bus as bus_port
from bcs.core import tasks
from bcs.storage import outbox
from bcs.storage.service import core, documents
from bcs.storage.store import conditions as c
from bcs.storage.store import mongosearch, port
from tests.services import eventually


class Recorder(monitoring.CommandListener):
    """The filters of the reads and writes a client sends, by collection."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, str, list[dict[str, Any]]]] = []  # (command, collection, pipeline)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        cmd = event.command
        name = event.command_name
        if name == "aggregate":
            matches = [s for s in cmd["pipeline"] if "$match" in s]
            self.queries.append((name, cmd[name], matches[:1]))
        elif name in ("find", "count"):
            self.queries.append((name, cmd[name], [{"$match": cmd.get("filter") or cmd.get("query") or {}}]))
        elif name in ("update", "delete"):
            ops = cmd.get("updates") or cmd.get("deletes") or []
            self.queries += [(name, cmd[name], [{"$match": op["q"]}]) for op in ops[:3]]

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def recorded(
    mongo_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> AsyncIterator[tuple[port.Store, Recorder, Any]]:
    recorder = Recorder()
    real = pymongo.AsyncMongoClient

    def client(*args: Any, **kwargs: Any) -> Any:
        return real(*args, event_listeners=[recorder], **kwargs)

    monkeypatch.setattr(pymongo, "AsyncMongoClient", client)
    database = f"bcs_test_{uuid.uuid4().hex[:16]}"
    settings = config.StoreSettings(backend="mongo", url=mongo_url, database=database, timeout=5.0)
    store = port.open_store(settings, data_dir=tmp_path)
    await store.start()
    plain: pymongo.AsyncMongoClient[dict[str, Any]] = real(mongo_url)
    try:
        yield store, recorder, plain[database]
    finally:
        await store.close()
        await plain.drop_database(database)
        await plain.close()


async def _plan(db: Any, collection: str, match: list[dict[str, Any]]) -> str:
    explained = await db.command("aggregate", collection, pipeline=match or [{"$match": {}}], explain=True)
    return str(explained)


async def test_the_write_and_publish_path_never_scans(recorded: tuple[port.Store, Recorder, Any]) -> None:
    store, recorder, db = recorded
    bus = bus_port.open_bus(config.BusSettings())
    await bus.start()
    service = core.StorageService(store, bus, settings=config.StorageSettings(), exchange="bcs-storage")
    drainer = tasks.create_guarded_task(name="test.outbox", coro=service.outbox.run())
    try:
        pods = [
            documents.Resource(cluster_id="c1", resource_type="Pod", name=f"p{i}", namespace="ns", data={})
            for i in range(100)
        ]
        await service.put_resources(pods[:60])
        await service.put_resources(pods[40:])  # updates and creates
        await service.put_resource(documents.Resource("c1", "Node", "n1", {}))
        # The data watch's delete: the objects by name, and-ed with the objects found.
        await service.delete_resources("Pod", c.keys_match(p.key() for p in reversed(pods[5:65])))
        await service.events.put(
            {"clusterId": "c1", "data": {"metadata": {"name": "e", "resourceVersion": "1"}}}
        )
        await eventually(lambda: service.outbox.published >= 100 + 1 + 60 + 1, what="the changes published")
    finally:
        await tasks.stop_tasks([drainer])
        await service.outbox.close()
        await bus.close()
    hot = {"Pod", "Node", documents.EVENTS, outbox.OUTBOX}
    checked = 0
    for command, collection, match in recorder.queries:
        if collection not in hot or not match or not match[0]["$match"]:
            continue
        where = match[0]["$match"]
        if collection == outbox.OUTBOX and "id" not in where and not isinstance(where.get("owner"), str):
            continue  # the periodic orphan passes look at every document; they run every few seconds
        plan = await _plan(db, collection, match)
        assert "COLLSCAN" not in plan, f"{command} on {collection} {match}: {plan}"
        checked += 1
    assert checked >= 8
    # What was checked includes the upserts, the delete's lookup and the outbox's purge.
    kinds = {(command, collection) for command, collection, _ in recorder.queries}
    assert {("update", "Pod"), ("aggregate", "Pod"), ("delete", outbox.OUTBOX)} <= kinds
    # No list of names longer than a piece (SecantusDB checks each candidate against all of it).
    longest = max(len(v["$in"]) for *_, match in recorder.queries for m in match for v in _ins(m["$match"]))
    assert longest == mongosearch.IN_CHUNK


def _ins(where: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in where.values() if isinstance(v, dict) and "$in" in v]


def test_a_condition_and_ed_with_the_objects_it_found_stays_one_flat_filter() -> None:
    def named(*names: str) -> c.Condition:
        return c.keys_match(
            {"clusterId": "c", "namespace": "n", "resourceType": "Pod", "resourceName": n} for n in names
        )

    first, _ = mongosearch.stages(c.And(named("a", "b", "c"), named("c", "a")), include_deleted=False)
    assert first == {
        "$match": {
            "clusterId": "c",
            "namespace": "n",
            "resourceType": "Pod",
            "resourceName": {"$in": ["a", "c"]},
        }
    }
    # One name left: an equality. None: nothing matches.
    assert mongosearch.filter_of(c.And(named("a", "b"), named("b")))["resourceName"] == "b"
    assert mongosearch.filter_of(c.And(named("a"), c.In("resourceName", ["z"])))["resourceName"] == {
        "$in": []
    }
    # True is not 1 to MongoDB.
    assert (
        mongosearch.filter_of(c.And(c.In("resourceName", [1, True]), c.In("resourceName", [True])))[
            "resourceName"
        ]
        is True
    )
    # Other fields may hold arrays, where two $in can both match and their intersection not: kept apart.
    assert "$and" in mongosearch.filter_of(c.And(c.In("tags", ["x", "y"]), c.In("tags", ["y", "z"])))


def test_a_long_list_of_names_goes_out_in_pieces_that_select_each_object_once() -> None:
    names = [f"p{i}" for i in range(70)]
    match = {"clusterId": "c", "resourceName": {"$in": [*names, "p3", "p5"]}, "_id": {"$in": [1, 2]}}
    pieces = mongosearch.split(match, limit=32)
    assert [len(p["resourceName"]["$in"]) for p in pieces] == [32, 32, 6]  # repeats dropped
    assert [n for p in pieces for n in p["resourceName"]["$in"]] == names
    assert all(p["clusterId"] == "c" and p["_id"] == {"$in": [1, 2]} for p in pieces)
    # True is not 1 to MongoDB: both stay.
    (piece,) = mongosearch.split({"resourceName": {"$in": [1, True, 1]}}, limit=1)[1:]
    assert piece["resourceName"]["$in"] == [True]
    # Left whole: short lists, fields that may hold arrays (a document would match several pieces),
    # lists with operators or documents in them, and other operators beside $in.
    for whole in (
        {"resourceName": {"$in": names[:32]}},
        {"data.tags": {"$in": names}},
        {"resourceName": {"$in": [*names, {"a": 1}]}},
        {"resourceName": {"$in": names, "$ne": "p1"}},
    ):
        assert mongosearch.split(whole, limit=32) == [whole]
