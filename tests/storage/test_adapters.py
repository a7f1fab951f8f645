"""What only one adapter has: the SQLite file, MongoDB outages and its on-disk key escaping."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import socket
import sqlite3
import uuid

import pymongo
import pymongo.uri_parser
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


class StallingProxy:
    """A loopback TCP proxy to a server; while ``stalled`` it passes nothing on (a hung server)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.stalled = False
        self._resume = asyncio.Event()
        self._resume.set()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    def stall(self, on: bool) -> None:
        self.stalled = on
        (self._resume.clear if on else self._resume.set)()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                await self._resume.wait()
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._conns |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def close(self) -> None:
        for w in self._conns:
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def test_mongo_that_stops_answering_is_port_unavailable(mongo_url: str, tmp_path: pathlib.Path) -> None:
    parsed = pymongo.uri_parser.parse_uri(mongo_url)
    proxy = StallingProxy(parsed["nodelist"][0])
    port_no = await proxy.start()
    database = f"bcs_test_{uuid.uuid4().hex[:16]}"
    url = f"mongodb://127.0.0.1:{port_no}/?directConnection=true"
    settings = config.StoreSettings(
        backend="mongo", url=url, database=database, timeout=1.0, connect_timeout=1.0, socket_timeout=0.5
    )
    store = port.open_store(settings, data_dir=tmp_path)
    await store.start()
    try:
        await store.upsert("Pod", KEY, {"v": 1})
        proxy.stall(True)
        # A stalled server is an error within the timeouts, never a hang (wait_for fails the test).
        with pytest.raises(errors.PortUnavailable, match=r"^store: MongoDB"):
            await asyncio.wait_for(store.find("Pod", c.Query()), 10)
        with pytest.raises(errors.PortUnavailable):
            await asyncio.wait_for(store.upsert_many("Pod", [port.Upsert(KEY, {"v": 2})]), 10)
        proxy.stall(False)
        (doc,) = await asyncio.wait_for(store.find("Pod", c.Query()), 10)
        assert doc["data"]["v"] in (1, 2)
    finally:
        await store.close()
        await proxy.close()
        client: pymongo.AsyncMongoClient[dict[str, object]] = pymongo.AsyncMongoClient(mongo_url)
        await client.drop_database(database)
        await client.close()
