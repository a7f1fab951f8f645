"""``kv`` and ``prefix`` for the core's tests: every test on the KV port runs once on SQLite and
once on the shared etcd, under a key prefix of its own."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import pytest

from bcs.core import kv as kv_mod
from tests import services


@pytest.fixture(params=services.KV_KINDS)
async def kv(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[kv_mod.KV]:
    etcd_url = request.getfixturevalue("etcd_endpoint") if request.param == "etcd" else None
    async with services.open_kv(request.param, tmp_path=tmp_path, etcd_url=etcd_url) as store:
        yield store


@pytest.fixture
async def prefix(request: pytest.FixtureRequest, kv: kv_mod.KV) -> AsyncIterator[str]:
    """A key prefix of this test alone (named after its module), emptied afterwards."""
    name = services.unique_prefix(request.module.__name__.rpartition(".")[2].removeprefix("test_"))
    yield name
    await kv.delete_prefix(name)
