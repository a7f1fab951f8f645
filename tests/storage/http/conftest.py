"""Fixtures for the storage API: the whole app (``create_app``) on each store backend.

``client`` is parametrized over SQLite and the shared MongoDB-wire server (a database of its own per
test, dropped afterwards) with the in-process bus; ``make_settings`` builds more apps on the same
store (e.g. two processes sharing it), and ``rabbit_sections`` points them at the shared RabbitMQ
broker under an exchange of the test's own, deleted afterwards.
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pymongo
import pytest

from bcs import app as app_mod
from bcs import config
from bcs.storage.service import messages
from bcs.testing import ADMIN_TOKEN, embedded_settings
from tests.core.bus.conftest import Names, delete_broker_names

STORES = ("sqlite", "mongo")
PREFIX = "/bcsapi/v4/storage"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def app_client(aiohttp_client: Any, settings: config.BcsSettings) -> Any:
    """A test client of ``create_app(settings)`` that sends the admin token."""
    return await aiohttp_client(app_mod.create_app(settings), headers=AUTH)


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def store_sections(store_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """The ``[store]`` section of this test's store (empty for the embedded SQLite file)."""
    if store_kind == "sqlite":
        yield {}
        return
    url = request.getfixturevalue("mongo_url")
    database = f"bcs_test_{uuid.uuid4().hex[:16]}"
    try:
        yield {"store": {"backend": "mongo", "url": url, "database": database}}
    finally:
        client: pymongo.AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(url)
        try:
            await client.drop_database(database)
        finally:
            await client.close()


@pytest.fixture
def make_settings(
    tmp_path: pathlib.Path, store_sections: dict[str, Any]
) -> Callable[..., config.BcsSettings]:
    """Settings on this test's store; every app built from them shares the data dir and database."""

    def make(**sections: dict[str, Any]) -> config.BcsSettings:
        return embedded_settings(tmp_path / "data", **store_sections, **sections)

    return make


@pytest.fixture
async def rabbit_sections(amqp_url: str) -> AsyncIterator[dict[str, Any]]:
    """A ``[bus]`` section on the shared broker with this test's own exchange (and its watch twin)."""
    names = Names()
    names.exchanges.append(messages.watch_exchange(names.exchange))
    try:
        yield {"bus": {"backend": "rabbitmq", "url": amqp_url, "exchange": names.exchange}}
    finally:
        await delete_broker_names(amqp_url, names)


@pytest.fixture
async def client(aiohttp_client: Any, make_settings: Callable[..., config.BcsSettings]) -> Any:
    return await app_client(aiohttp_client, make_settings())
