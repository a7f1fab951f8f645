"""The ``bcs`` command line.

Exit codes: 0 success; 1 the command failed at run time (a startup error, a port that cannot be
opened); 2 bad usage or bad configuration (one line on stderr names the key and the file);
130 interrupted before it could stop cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

import attrs
from aiohttp import web

import bcs
from bcs import client, config, demo, errors, logs, plugin_manager, workers

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK", "build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130
logger = logging.getLogger(__name__)

# Sub-commands of `bcs sim`: name -> module exposing configure_parser(parser) and run(args) -> int.
SIMULATORS = {"kube": "bcs.sim.kube.cli", "mesos": "bcs.sim.mesos.cli"}


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        default=os.environ.get("BCS_CONFIG"),
        help="TOML configuration file (default: $BCS_CONFIG, else built-in defaults)",
    )


def build_parser(plugins: plugin_manager.BcsPlugins | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bcs",
        description="Unified container-cluster management: one gateway, store and bus for many clusters.",
        epilog="Exit codes: 0 ok, 1 run-time failure, 2 bad usage or configuration, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"bcs {bcs.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the bcs server", description="Run the bcs server.")
    _add_config_option(serve)
    serve.add_argument("--host", help="override [server] host")
    serve.add_argument("--port", type=int, help="override [server] port (0 picks a free one)")
    serve.set_defaults(handler=cmd_serve)

    cfg = sub.add_parser("config", help="inspect configuration", description="Inspect configuration.")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    check = cfg_sub.add_parser(
        "check",
        help="validate a configuration and print it with secrets masked",
        description="Validate the configuration (file, BCS_* overrides, plugin tables) and print it "
        "as JSON with secrets masked. Exits 2 with one line naming the key and file if it is invalid.",
    )
    _add_config_option(check)
    check.set_defaults(handler=cmd_config_check)

    version = sub.add_parser("version", help="print the version", description="Print the version.")
    version.set_defaults(handler=cmd_version)

    demo_parser = sub.add_parser(
        "demo", help="run bcs with two simulated clusters registered through the kube agent"
    )
    demo.configure_parser(demo_parser)
    demo_parser.set_defaults(handler=demo.run)

    sim = sub.add_parser("sim", help="run simulated clusters", description="Run simulated clusters.")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="KIND", required=True)
    for name, module in SIMULATORS.items():
        _add_simulator(sim_sub, name, module)

    client.register_commands(sub)  # cluster, credential, user, token, permission, kubeconfig
    if plugins is not None:
        plugins.register_commands(sub)
    return parser


def _add_simulator(sub: argparse._SubParsersAction, name: str, module: str) -> None:  # type: ignore[type-arg]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is None or not module.startswith(e.name):
            raise
        return  # this simulator is not built yet
    p = sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else None)
    mod.configure_parser(p)
    p.set_defaults(handler=mod.run)


def _load(args: argparse.Namespace) -> config.BcsSettings:
    return config.load(args.config)


def cmd_config_check(args: argparse.Namespace) -> int:
    settings = _load(args)
    plugins = plugin_manager.make_plugin_manager(
        enabled=settings.plugins.enabled, disabled=settings.plugins.disabled
    )
    plugins.check_config(settings)
    print(json.dumps(config.masked(settings), indent=2))
    print(f"configuration OK: {settings.source}", file=sys.stderr)
    return EXIT_OK


def cmd_version(args: argparse.Namespace) -> int:
    print(f"bcs {bcs.__version__}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _load(args)
    server = settings.server
    if args.host is not None:
        server = attrs.evolve(server, host=args.host)
    if args.port is not None:
        server = attrs.evolve(server, port=args.port)
    settings = attrs.evolve(settings, server=server)
    logs.setup_logging(log_format=settings.server.log_format, level=settings.server.log_level)
    if settings.server.workers > 1:
        return workers.serve_workers(settings, serve=serve)
    return asyncio.run(serve(settings))


def _url(host: str, port: int, *, tls: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


async def serve(
    settings: config.BcsSettings,
    *,
    ready: Callable[[str], None] | None = None,
    reuse_port: bool = False,
    banner: bool = True,
) -> int:
    """Serve until SIGTERM/SIGINT, then stop in order: sites, handlers, cleanup contexts.

    HTTPS unless ``[server] tls = "off"``; ``reuse_port`` lets several worker processes share the port.
    """
    from bcs import app as app_mod  # the composition root is only needed when serving
    from bcs.gateway import accesslog, tls

    app = app_mod.create_app(settings)
    files = tls.prepare(settings.server, data_dir=settings.data_path)  # made by create_app; reused
    ssl_context = tls.server_context(files) if files is not None else None
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=accesslog.AccessLogger,
        access_log=logging.getLogger("bcs.access") if settings.server.access_log else None,
        shutdown_timeout=settings.server.shutdown_timeout,
    )
    await runner.setup()
    try:
        site = web.TCPSite(
            runner,
            settings.server.host,
            settings.server.port,
            ssl_context=ssl_context,
            reuse_port=reuse_port or None,
        )
        await site.start()
        host, port = runner.addresses[0][:2]
        url = _url(host, port, tls=ssl_context is not None)
        if banner:
            ca = f"; gateway CA: {files.ca_file}" if files is not None and files.ca_file else ""
            print(f"bcs {bcs.__version__} serving on {url} (config: {settings.source}{ca})", flush=True)
        if ready is not None:
            ready(url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        logger.info("stopping")
    finally:
        await runner.cleanup()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    plugins = plugin_manager.make_plugin_manager()
    parser = build_parser(plugins)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except errors.ConfigError as e:
        print(f"bcs: configuration error: {e.message}", file=sys.stderr)
        return EXIT_CONFIG
    except errors.StartupError as e:
        print(f"bcs: cannot start: {e.message}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as e:  # e.g. the port is taken
        print(f"bcs: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
