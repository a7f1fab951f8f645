"""What only one adapter has: the SQLite file, MongoDB outages and its on-disk key escaping."""

from __future__ import annotations

import pathlib
import socket
import sqlite3
import uuid

import pymongo
import pytest

from bcs import config, errors
from bcs.storage.store import conditions as c
from bcs.storage.store import mongo, port, sqlite


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


KEY = {"clusterId": "BCS-K8S-1", "namespace": "default", "resourceType": "Pod", "resourceName": "a"}


def test_open_store_picks_the_adapter(tmp_path: pathlib.Path) -> None:
    assert isinstance(port.open_store(config.StoreSettings(), data_dir=tmp_path), sqlite.SqliteStore)
    settings = config.StoreSettings(backend="mongo")
    assert isinstance(port.open_store(settings, data_dir=tmp_path), mongo.MongoStore)


async def test_sqlite_keeps_data_in_one_wal_file(tmp_path: pathlib.Path) -> None:
    data_dir = tmp_path / "data"
    store = port.open_store(config.StoreSettings(), data_dir=data_dir)
    await store.start()
    try:
        written = await store.upsert("Pod", KEY, {"v": 1})
        await store.ensure_index("Pod", "by_v", [("data.v", 1)])
    finally:
        await store.close()
    with sqlite3.connect(data_dir / "store.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    again = port.open_store(config.StoreSettings(), data_dir=data_dir)
    await again.start()
    try:
        assert await again.find("Pod", c.Query()) == [written]
        assert "by_v" in {i.name for i in await again.list_indexes("Pod")}
        assert (await again.upsert("Pod", KEY, {"v": 2}))["createTime"] == written["createTime"]
    finally:
        await again.close()


async def test_sqlite_closed_or_unopenable_is_unavailable(tmp_path: pathlib.Path) -> None:
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    await store.start()
    await store.ping()
    await store.close()
    with pytest.raises(errors.PortUnavailable, match=r"^store: "):
        await store.ping()

    (tmp_path / "file").write_text("not a directory")
    blocked = port.open_store(config.StoreSettings(), data_dir=tmp_path / "file")
    with pytest.raises(errors.PortUnavailable, match=r"^store: "):
        await blocked.start()


async def test_mongo_down_is_port_unavailable(tmp_path: pathlib.Path) -> None:
    url = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    settings = config.StoreSettings(backend="mongo", url=url, database="nowhere", timeout=0.3)
    store = port.open_store(settings, data_dir=tmp_path)
    await store.start()
    try:
        with pytest.raises(errors.PortUnavailable, match=r"^store: MongoDB unreachable"):
            await store.ping()
        with pytest.raises(errors.PortUnavailable):
            await store.find("Pod", c.Query())
        with pytest.raises(errors.PortUnavailable):
            await store.upsert("Pod", KEY, {})
    finally:
        await store.close()


async def test_mongo_bad_url_is_a_config_error(tmp_path: pathlib.Path) -> None:
    store = port.open_store(config.StoreSettings(backend="mongo", url="nonsense://x"), data_dir=tmp_path)
    with pytest.raises(errors.ConfigError, match=r"store\.url"):
        await store.start()


async def test_mongo_documents_have_the_upstream_shape_and_escaped_keys(
    mongo_url: str, tmp_path: pathlib.Path
) -> None:
    database = f"bcs_test_{uuid.uuid4().hex[:16]}"
    settings = config.StoreSettings(backend="mongo", url=mongo_url, database=database)
    store = port.open_store(settings, data_dir=tmp_path)
    client: pymongo.AsyncMongoClient[dict[str, object]] = pymongo.AsyncMongoClient(mongo_url, tz_aware=True)
    await store.start()
    try:
        await store.upsert("Pod", KEY, {"metadata": {"annotations": {"$a.b": 1}}})
        raw = await client[database]["Pod"].find_one({})
        assert raw is not None
        assert set(raw) == {"_id", *KEY, "data", "createTime", "updateTime", "_isBcsObjectDeleted"}
        assert raw["data"] == {"metadata": {"annotations": {"\uff0524a\uff052eb": 1}}}
        assert raw["_isBcsObjectDeleted"] is False
    finally:
        await store.close()
        await client.drop_database(database)
        await client.close()


async def test_sqlite_file_that_is_not_a_database_is_unavailable(tmp_path: pathlib.Path) -> None:
    (tmp_path / "store.sqlite3").write_bytes(b"this is not a database file, not at all" * 100)
    store = port.open_store(config.StoreSettings(), data_dir=tmp_path)
    with pytest.raises(errors.PortUnavailable, match=r"^store: cannot use"):
        await store.start()
