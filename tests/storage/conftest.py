"""The ``store`` fixture: every contract test runs once on SQLite and once on the shared MongoDB-wire
server, each time in a store of its own (a fresh file, or a database dropped afterwards)."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import AsyncIterator

import pymongo
import pytest

from bcs import config
from bcs.storage.store import port

STORE_KINDS = ("sqlite", "mongo")


def settings_for(kind: str, *, mongo_url: str = "", database: str = "") -> config.StoreSettings:
    if kind == "sqlite":
        return config.StoreSettings()
    return config.StoreSettings(backend="mongo", url=mongo_url, database=database, timeout=5.0)


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[port.Store]:
    mongo_url = request.getfixturevalue("mongo_url") if request.param == "mongo" else ""
    database = f"bcs_test_{uuid.uuid4().hex[:16]}"
    store = port.open_store(
        settings_for(request.param, mongo_url=mongo_url, database=database), data_dir=tmp_path
    )
    await store.start()
    try:
        yield store
    finally:
        await store.close()
        if mongo_url:
            client: pymongo.AsyncMongoClient[dict[str, object]] = pymongo.AsyncMongoClient(mongo_url)
            try:
                await client.drop_database(database)
            finally:
                await client.close()
