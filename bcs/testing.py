"""Pytest fixtures for bcs and for third-party plugin authors (``pytest_plugins = ["bcs.testing"]``).

The real backing services are found through environment variables that ``make test`` sets:
``BCS_TEST_ETCD`` (client URL), ``BCS_TEST_MONGO`` (MongoDB URL) and ``BCS_TEST_AMQP`` (AMQP URL).
A test that needs one fails (never skips) when its variable is missing.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import Callable, Iterable

import pytest

from bcs import config, plugin_manager

__all__ = [
    "ADMIN_TOKEN",
    "amqp_url",
    "embedded_settings",
    "etcd_endpoint",
    "make_plugins",
    "mongo_url",
    "require_service",
    "settings",
]

ADMIN_TOKEN = "test-admin-token"


def embedded_settings(data_dir: pathlib.Path, **sections: dict) -> config.BcsSettings:
    """Embedded adapters in ``data_dir``, a fixed admin token, and any extra TOML-shaped sections."""
    data = {"server": {"data_dir": str(data_dir), "port": 0}, "auth": {"admin_token": ADMIN_TOKEN}}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return config.BcsSettings.from_mapping(data, source="<test>", environ={})


@pytest.fixture
def settings(tmp_path: pathlib.Path) -> config.BcsSettings:
    """Embedded settings in a fresh temporary data dir."""
    return embedded_settings(tmp_path / "data")


@pytest.fixture
def make_plugins() -> Callable[..., plugin_manager.BcsPlugins]:
    """Build a fresh plugin manager with extra ``(name, plugin)`` pairs; entry points are not loaded."""

    def make(
        *extra: tuple[str, object], disabled: Iterable[str] = (), enabled: Iterable[str] = ()
    ) -> plugin_manager.BcsPlugins:
        return plugin_manager.make_plugin_manager(
            enabled=enabled, disabled=disabled, load_entrypoints=False, extra=extra
        )

    return make


def require_service(var: str, what: str) -> str:
    """The value of ``var``; fail the test with a message saying how to provide it."""
    value = os.environ.get(var, "")
    if not value:
        pytest.fail(f"{what} is needed: run the suite with `make test`, or set {var}", pytrace=False)
    return value


@pytest.fixture(scope="session")
def etcd_endpoint() -> str:
    return require_service("BCS_TEST_ETCD", "a running etcd")


@pytest.fixture(scope="session")
def mongo_url() -> str:
    return require_service("BCS_TEST_MONGO", "a MongoDB-wire server (SecantusDB)")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return require_service("BCS_TEST_AMQP", "a RabbitMQ broker")


@pytest.fixture(autouse=True)
async def _no_asyncio_pending_tasks() -> object:
    """Fail a test that leaves asyncio tasks running behind it (kopf's guard)."""
    before = asyncio.all_tasks()
    yield
    # Give cancelled tasks one loop turn to finish unwinding.
    await asyncio.sleep(0)
    left = {t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()}
    if left:
        names = ", ".join(sorted(t.get_name() for t in left))
        for t in left:
            t.cancel()
        pytest.fail(f"the test left asyncio tasks pending: {names}")
