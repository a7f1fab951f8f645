"""The plugin system: one test per hook (the meta-test below insists), blocking, validation."""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import sys
from collections.abc import Callable
from typing import ClassVar

import pytest
from aiohttp import web

import bcs
from bcs import app as app_mod
from bcs import cli, config, errors, hookspecs, keys, plugin_manager
from bcs.core import backend, registry, tasks
from bcs.testing import ADMIN_TOKEN

Plugins = Callable[..., plugin_manager.BcsPlugins]


class _Fake(backend.Backend):
    engines = ("fake",)
    events: ClassVar[list[str]] = []

    @staticmethod
    def name() -> str:
        return "fake"

    async def start(self) -> None:
        self.events.append("start")

    async def close(self) -> None:
        self.events.append("close")


def test_builtin_plugins_register_their_backends(make_plugins: Plugins) -> None:
    plugins = make_plugins()
    assert plugins.names() == ["k8s", "mesos", "federation", "core"]
    reg = backend.BackendRegistry()
    plugins.register_backends(reg)
    assert sorted(reg.names()) == ["federation", "k8s", "mesos"]
    assert [cls.name() for cls in reg.for_engine("k8s")] == ["k8s"]
    assert reg.owner("mesos") == "mesos"


def test_hook_bcs_register_backends(make_plugins: Plugins) -> None:
    class One:
        @bcs.hookimpl
        def bcs_register_backends(self, registry: backend.BackendRegistry) -> None:
            registry.add(_Fake)

    reg = backend.BackendRegistry()
    make_plugins(("one", One())).register_backends(reg)
    assert reg.get("fake") is _Fake
    assert reg.owner("fake") == "one"

    reg = backend.BackendRegistry()
    with pytest.raises(
        errors.StartupError,
        match=r"duplicate backend name 'fake': registered by plugin '(one|two)' and by plugin",
    ):
        make_plugins(("one", One()), ("two", One())).register_backends(reg)


def test_register_backends_rejects_non_backend(make_plugins: Plugins) -> None:
    class Bad:
        @bcs.hookimpl
        def bcs_register_backends(self, registry: backend.BackendRegistry) -> None:
            registry.add(object)  # type: ignore[arg-type]

    with pytest.raises(errors.StartupError, match=r"plugin bad: .* is not a Backend subclass"):
        make_plugins(("bad", Bad())).register_backends(backend.BackendRegistry())


def test_hook_bcs_check_config(make_plugins: Plugins) -> None:
    seen: list[object] = []

    class Checker:
        @bcs.hookimpl
        def bcs_check_config(self, settings: config.BcsSettings) -> None:
            seen.append(settings.plugin_config("checker"))
            if settings.plugin_config("checker").get("level", 0) > 3:
                raise errors.ConfigError(f"{settings.source}: plugins.checker.level: at most 3")

    plugins = make_plugins(("checker", Checker()))
    plugins.check_config(config.BcsSettings.from_mapping({"plugins": {"checker": {"level": 2}}}, environ={}))
    assert seen == [{"level": 2}]
    bad = config.BcsSettings.from_mapping({"plugins": {"checker": {"level": 9}}}, source="f.toml", environ={})
    with pytest.raises(errors.ConfigError, match=r"f\.toml: plugins\.checker\.level: at most 3"):
        plugins.check_config(bad)


def test_builtin_plugin_tables_are_validated(make_plugins: Plugins) -> None:
    plugins = make_plugins()
    for data, message in [
        (
            {"k8s": {"operators": ["gamedeployment", "typo"]}},
            r"plugins\.k8s\.operators: 'typo' is not one of",
        ),
        ({"mesos": {"masters": "http://m"}}, r"plugins\.mesos\.masters: expected an array"),
        ({"federation": {"host": "x"}}, r"plugins\.federation\.host: unknown key"),
        ({"nosuch": {}}, r"plugins\.nosuch: no plugin named 'nosuch'"),
    ]:
        s = config.BcsSettings.from_mapping({"plugins": data}, source="f.toml", environ={})
        with pytest.raises(errors.ConfigError, match=message):
            plugins.check_config(s)


def test_disabled_plugins_are_blocked_but_may_keep_their_table(make_plugins: Plugins) -> None:
    plugins = make_plugins(disabled=["mesos", "core"])
    assert "mesos" not in plugins.names()
    assert "core" in plugins.names()  # essential: cannot be blocked
    s = config.BcsSettings.from_mapping({"plugins": {"mesos": {"masters": ["http://m"]}}}, environ={})
    plugins.check_config(s)
    only = make_plugins(enabled=["k8s"])
    assert only.names() == ["k8s", "core"]


def test_misspelled_hookimpl_fails_startup(make_plugins: Plugins) -> None:
    class Typo:
        @bcs.hookimpl
        def bcs_register_backend(self, registry: object) -> None:  # missing "s"
            raise AssertionError("never called")

    with pytest.raises(errors.StartupError, match="bcs_register_backend"):
        make_plugins(("typo", Typo()))


async def test_hook_bcs_register_routes(aiohttp_client, settings, make_plugins: Plugins) -> None:
    class Routes:
        @bcs.hookimpl
        def bcs_register_routes(self, settings: config.BcsSettings) -> list[web.RouteDef]:
            async def hello(request: web.Request) -> web.Response:
                return web.json_response({"hello": request.match_info["name"]})

            return [web.get("/bcsapi/v4/demo/hello/{name}", hello)]

    client = await aiohttp_client(app_mod.create_app(settings, plugins=make_plugins(("routes", Routes()))))
    resp = await client.get("/bcsapi/v4/demo/hello/world", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert resp.status == 200
    assert await resp.json() == {"hello": "world"}


async def test_hook_bcs_register_tasks(settings, make_plugins: Plugins) -> None:
    ran = asyncio.Event()
    cancelled = asyncio.Event()

    async def loop_forever() -> None:
        ran.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    class Tasks:
        @bcs.hookimpl
        def bcs_register_tasks(self, app: web.Application) -> list[tasks.TaskSpec]:
            assert app[keys.KV] is not None  # ports are up before tasks start
            return [tasks.TaskSpec(name="demo.loop", factory=loop_forever)]

    app = app_mod.create_app(settings, plugins=make_plugins(("tasks", Tasks())))
    app.freeze()
    await app.startup()
    try:
        await asyncio.wait_for(ran.wait(), 10)
        assert [t.get_name() for t in app[keys.TASKS]] == ["demo.loop"]
    finally:
        await app.cleanup()
    assert cancelled.is_set()
    assert app[keys.TASKS][0].done()


async def test_hook_bcs_startup(settings, make_plugins: Plugins) -> None:
    calls: list[str] = []

    class Sync:
        @bcs.hookimpl
        def bcs_startup(self, app: web.Application) -> None:
            calls.append("sync")

    class Async:
        @bcs.hookimpl
        def bcs_startup(self, app: web.Application) -> object:
            async def later() -> None:
                await asyncio.sleep(0)
                calls.append("awaited")

            return later()

    app = app_mod.create_app(settings, plugins=make_plugins(("sync", Sync()), ("async", Async())))
    app.freeze()
    await app.startup()
    await app.cleanup()
    assert sorted(calls) == ["awaited", "sync"]

    class Refuses:
        @bcs.hookimpl
        def bcs_startup(self, app: web.Application) -> None:
            raise errors.StartupError("not today")

    app = app_mod.create_app(settings, plugins=make_plugins(("refuses", Refuses())))
    app.freeze()
    with pytest.raises(errors.StartupError, match="not today"):
        await app.startup()
    await app.cleanup()  # the resources that did start are released


def test_hook_bcs_register_commands(make_plugins: Plugins, capsys) -> None:
    class Commands:
        @bcs.hookimpl
        def bcs_register_commands(self, subparsers: argparse._SubParsersAction) -> None:
            p = subparsers.add_parser("greet", help="say hello")
            p.add_argument("name")
            p.set_defaults(handler=lambda args: print(f"hello {args.name}") or 3)

    parser = cli.build_parser(make_plugins(("commands", Commands())))
    args = parser.parse_args(["greet", "bcs"])
    assert args.handler(args) == 3
    assert capsys.readouterr().out == "hello bcs\n"
    assert "greet" in parser.format_help()


def test_hook_bcs_backend_for_cluster(make_plugins: Plugins) -> None:
    cluster = registry.Cluster(clusterID="BCS-K8S-40001", engineType="k8s")
    assert make_plugins().backend_for_cluster(cluster) == "k8s"  # the trylast fallback

    class Router:
        @bcs.hookimpl
        def bcs_backend_for_cluster(self, cluster: registry.Cluster) -> str | None:
            return "federation" if cluster.clusterID.endswith("1") else None

    plugins = make_plugins(("router", Router()))
    assert plugins.backend_for_cluster(cluster) == "federation"
    other = registry.Cluster(clusterID="BCS-K8S-40002", engineType="k8s")
    assert plugins.backend_for_cluster(other) == "k8s"


async def test_backends_start_in_order_and_close_in_reverse(settings, make_plugins: Plugins) -> None:
    class One:
        @bcs.hookimpl
        def bcs_register_backends(self, registry: backend.BackendRegistry) -> None:
            registry.add(_Fake)

    _Fake.events.clear()
    app = app_mod.create_app(settings, plugins=make_plugins(("one", One())))
    app.freeze()
    await app.startup()
    assert _Fake.events == ["start"]
    assert isinstance(app[keys.BACKENDS]["fake"], _Fake)
    await app.cleanup()
    assert _Fake.events == ["start", "close"]


# -- meta-tests (datasette's test_plugin_hooks_have_tests / _are_documented) ----------------------

HOOKS = sorted(hookspecs.__all__)
DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "hooks.md"


def test_hookspecs_module_lists_every_hook(make_plugins: Plugins) -> None:
    declared = {name for name in dir(make_plugins().manager.hook) if name.startswith("bcs_")}
    assert declared == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_have_tests(hook: str) -> None:
    assert f"test_hook_{hook}" in dir(sys.modules[__name__]), f"write test_hook_{hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook: str) -> None:
    import inspect

    signature = str(inspect.signature(getattr(hookspecs, hook))).replace("'", "")
    assert f"## {hook}\n" in DOCS.read_text()
    assert f"def {hook}{signature}" in DOCS.read_text(), f"docs/hooks.md: document {hook}{signature}"
