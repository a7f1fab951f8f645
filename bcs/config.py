"""The settings tree: one frozen attrs class per concern, built from TOML plus ``BCS_*`` overrides.

Only the composition root (and the CLI) reads files or the environment; everything below receives
the finished :class:`BcsSettings` (or one of its sections) as a keyword argument.

Overrides: ``BCS_SECTION__KEY=value`` (e.g. ``BCS_SERVER__PORT=18080``, ``BCS_KV__BACKEND=etcd``);
the value is parsed as TOML when it parses (numbers, booleans, arrays), else taken as a string.
Secrets may be written ``{"$env" = "NAME"}`` (optionally ``default = "..."``) and are then read from
that environment variable.
"""

from __future__ import annotations

import os
import pathlib
import tomllib
import types
import typing
import urllib.parse
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from bcs import errors

__all__ = [
    "AuthSettings",
    "BcsSettings",
    "BusSettings",
    "ClusterSpec",
    "GatewaySettings",
    "KvSettings",
    "PluginsSettings",
    "ServerSettings",
    "StorageSettings",
    "StoreSettings",
    "build_section",
    "load",
    "masked",
]

T = TypeVar("T")
ENV_PREFIX = "BCS_"
SECRET_FIELDS = frozenset({"admin_token", "token", "password", "ca_data"})


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@attrs.frozen
class ServerSettings:
    """Where the process listens and keeps its embedded data."""

    host: str = attrs.field(default="127.0.0.1", metadata=_doc("address to bind"))
    port: int = attrs.field(default=8080, metadata=_doc("TCP port; 0 picks a free one"))
    data_dir: str = attrs.field(default=".bcs", metadata=_doc("directory of the embedded SQLite files"))
    log_format: str = attrs.field(
        default="text",
        validator=attrs.validators.in_(("text", "json")),
        metadata=_doc("'text' (human) or 'json' (one object a line)"),
    )
    log_level: str = attrs.field(default="INFO", metadata=_doc("root log level"))
    shutdown_timeout: float = attrs.field(default=10.0, metadata=_doc("seconds to drain on SIGTERM"))
    tls: str = attrs.field(
        default="auto",
        validator=attrs.validators.in_(("auto", "off", "files")),
        metadata=_doc(
            "'auto' (CA + cert generated in data_dir), 'off' (plain HTTP), 'files' (cert/key below)"
        ),
    )
    cert_file: str = attrs.field(default="", metadata=_doc("PEM certificate chain, with tls = 'files'"))
    key_file: str = attrs.field(default="", metadata=_doc("PEM private key, with tls = 'files'"))
    workers: int = attrs.field(default=1, metadata=_doc("processes sharing the port (SO_REUSEPORT)"))
    rate_limit: float = attrs.field(default=1000.0, metadata=_doc("requests per second per token"))
    rate_burst: int = attrs.field(default=500, metadata=_doc("burst above rate_limit per token"))
    access_log: bool = attrs.field(default=True, metadata=_doc("one line per request (never secrets)"))


@attrs.frozen
class KvSettings:
    """The KV port: cluster registry, credentials, tokens, scheduler state."""

    backend: str = attrs.field(
        default="sqlite",
        validator=attrs.validators.in_(("sqlite", "etcd")),
        metadata=_doc("'sqlite' (embedded file in data_dir) or 'etcd'"),
    )
    endpoints: tuple[str, ...] = attrs.field(
        default=("http://127.0.0.1:2379",), converter=tuple, metadata=_doc("etcd client URLs")
    )
    prefix: str = attrs.field(default="/bcs/", metadata=_doc("every key bcs writes starts with this"))
    timeout: float = attrs.field(default=5.0, metadata=_doc("seconds per etcd call"))


@attrs.frozen
class StoreSettings:
    """The Store port: the synced copy of every cluster's resources."""

    backend: str = attrs.field(
        default="sqlite",
        validator=attrs.validators.in_(("sqlite", "mongo")),
        metadata=_doc("'sqlite' (embedded JSON1 file in data_dir) or 'mongo'"),
    )
    url: str = attrs.field(default="mongodb://127.0.0.1:27017/", metadata=_doc("MongoDB URL"))
    database: str = attrs.field(default="bcs", metadata=_doc("MongoDB database name"))
    timeout: float = attrs.field(default=5.0, metadata=_doc("server selection timeout, seconds"))
    connect_timeout: float = attrs.field(
        default=5.0, metadata=_doc("MongoDB: seconds to open a connection (and its handshake)")
    )
    socket_timeout: float = attrs.field(
        default=60.0, metadata=_doc("MongoDB: seconds one request may wait for its reply")
    )


@attrs.frozen
class BusSettings:
    """The Bus port: change publication."""

    backend: str = attrs.field(
        default="memory",
        validator=attrs.validators.in_(("memory", "rabbitmq")),
        metadata=_doc("'memory' (in-process fan-out) or 'rabbitmq'"),
    )
    url: str = attrs.field(default="amqp://guest:guest@127.0.0.1:5672/", metadata=_doc("AMQP URL"))
    exchange: str = attrs.field(default="bcs-storage", metadata=_doc("topic exchange for changes"))
    timeout: float = attrs.field(default=10.0, metadata=_doc("seconds to connect / wait for a confirm"))


DEFAULT_PUBLISHED = (
    "Pod",
    "Event",
    "StatefulSet",
    "DaemonSet",
    "Deployment",
    "GameDeployment",
    "GameStatefulSet",
)


@attrs.frozen
class StorageSettings:
    """The storage service: HTTP API defaults and change publication."""

    publish_resources: tuple[str, ...] = attrs.field(
        default=DEFAULT_PUBLISHED, converter=tuple, metadata=_doc("resourceTypes whose changes go on the bus")
    )
    default_limit: int = attrs.field(default=3000, metadata=_doc("rows a list returns without ?limit"))
    event_max_days: int = attrs.field(default=7, metadata=_doc("events older than this are purged"))
    event_max_count: int = attrs.field(default=100_000, metadata=_doc("events kept per cluster at most"))


@attrs.frozen
class AuthSettings:
    """Bootstrap credentials."""

    admin_token: str = attrs.field(
        default="",
        repr=False,
        metadata=_doc("bootstrap admin token; empty = generate one into <data_dir>/admin-token"),
    )
    public_paths: tuple[str, ...] = attrs.field(
        default=("/healthz", "/readyz", "/metrics"),
        converter=tuple,
        metadata=_doc("paths served without a token"),
    )


@attrs.frozen
class GatewaySettings:
    """The cluster reverse proxy (``/clusters/{id}/...``) and the apiserver health probe."""

    connect_timeout: float = attrs.field(default=10.0, metadata=_doc("seconds to connect to an apiserver"))
    read_timeout: float = attrs.field(
        default=60.0,
        metadata=_doc("seconds an apiserver may stay silent mid-response; none for watch, follow, exec"),
    )
    probe_interval: float = attrs.field(default=5.0, metadata=_doc("seconds between apiserver probes"))
    probe_timeout: float = attrs.field(default=2.0, metadata=_doc("seconds one probe may take"))
    unavailable_after: float = attrs.field(
        default=15.0,
        metadata=_doc("seconds of failed probes after which a cluster's requests get 503 at once"),
    )
    pool_size: int = attrs.field(default=256, metadata=_doc("open connections per cluster at most"))


@attrs.frozen
class PluginsSettings:
    """Which plugins run, and each plugin's own sub-table (validated by the plugin)."""

    enabled: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, metadata=_doc("if non-empty, only these plugins load")
    )
    disabled: tuple[str, ...] = attrs.field(default=(), converter=tuple, metadata=_doc("blocked plugins"))
    sections: Mapping[str, Mapping[str, Any]] = attrs.field(
        factory=dict, metadata=_doc("[plugins.<name>] tables, owned by each plugin")
    )


@attrs.frozen
class ClusterSpec:
    """A statically declared cluster (``[[clusters]]``), loaded into the registry at start."""

    id: str = attrs.field(metadata=_doc("cluster id, e.g. BCS-K8S-40001"))
    engine: str = attrs.field(
        default="k8s", validator=attrs.validators.in_(("k8s", "mesos")), metadata=_doc("k8s or mesos")
    )
    server: str = attrs.field(default="", metadata=_doc("apiserver / driver address"))
    ca_data: str = attrs.field(default="", repr=False, metadata=_doc("PEM of the cluster CA"))
    ca_file: str = attrs.field(default="", metadata=_doc("path of the cluster CA"))
    token: str = attrs.field(default="", repr=False, metadata=_doc("bearer token for the cluster"))
    name: str = attrs.field(default="", metadata=_doc("display name"))
    environment: str = attrs.field(default="prod", metadata=_doc("stag, debug or prod"))


@attrs.frozen
class BcsSettings:
    """The root of the settings tree."""

    server: ServerSettings = attrs.field(factory=ServerSettings)
    kv: KvSettings = attrs.field(factory=KvSettings)
    store: StoreSettings = attrs.field(factory=StoreSettings)
    bus: BusSettings = attrs.field(factory=BusSettings)
    storage: StorageSettings = attrs.field(factory=StorageSettings)
    auth: AuthSettings = attrs.field(factory=AuthSettings)
    gateway: GatewaySettings = attrs.field(factory=GatewaySettings)
    plugins: PluginsSettings = attrs.field(factory=PluginsSettings)
    clusters: tuple[ClusterSpec, ...] = attrs.field(default=(), converter=tuple)
    source: str = attrs.field(default="<defaults>", eq=False, metadata=_doc("where this came from"))

    @classmethod
    def defaults(cls) -> BcsSettings:
        return cls()

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "<mapping>",
        environ: Mapping[str, str] | None = None,
    ) -> BcsSettings:
        """Build settings from a parsed TOML mapping, apply ``BCS_*`` overrides, resolve ``$env``."""
        environ = os.environ if environ is None else environ
        merged = _apply_overrides(data, environ, source)
        resolved = _resolve_env(merged, environ, source, "")
        plugins = dict(resolved.get("plugins", {}))
        plugin_core = {k: plugins.pop(k) for k in ("enabled", "disabled") if k in plugins}
        for name, section in plugins.items():
            if not isinstance(section, Mapping):
                raise errors.ConfigError(f"{source}: plugins.{name}: expected a table, got {_tname(section)}")
        plugin_core["sections"] = plugins
        body = {k: v for k, v in resolved.items() if k != "plugins"}
        body["plugins"] = plugin_core
        built = _build(cls, body, source, "")
        return attrs.evolve(built, source=source)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
    ) -> BcsSettings:
        """Read a TOML file; any problem is a :class:`ConfigError` naming the file (and key)."""
        p = pathlib.Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise errors.ConfigError(f"{p}: no such file") from None
        except OSError as e:
            raise errors.ConfigError(f"{p}: cannot read: {e.strerror}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise errors.ConfigError(f"{p}: invalid TOML: {e}") from None
        return cls.from_mapping(data, source=str(p), environ=environ)

    def plugin_config(self, name: str) -> Mapping[str, Any]:
        """The ``[plugins.<name>]`` table (empty when absent)."""
        return self.plugins.sections.get(name, {})

    @property
    def data_path(self) -> pathlib.Path:
        return pathlib.Path(self.server.data_dir)


def load(path: str | os.PathLike[str] | None, *, environ: Mapping[str, str] | None = None) -> BcsSettings:
    """Settings from ``path``, or the defaults plus environment overrides when ``path`` is None."""
    if path is None:
        return BcsSettings.from_mapping({}, source="<defaults>", environ=environ)
    return BcsSettings.from_file(path, environ=environ)


def build_section(cls: type[T], data: Mapping[str, Any], *, source: str, path: str) -> T:
    """Turn a plugin's ``[plugins.<name>]`` table into its own attrs class, with config-check errors."""
    return _build(cls, data, source, path)


def masked(settings: BcsSettings) -> dict[str, Any]:
    """The effective settings as plain data, secrets replaced by ``***`` (for ``bcs config check``)."""
    return _dump(settings)


# -- building -------------------------------------------------------------------------------------


def _tname(value: object) -> str:
    return {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _apply_overrides(data: Mapping[str, Any], environ: Mapping[str, str], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if not all(parts):
            continue
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise errors.ConfigError(f"{name}: {'.'.join(parts)}: {part} is not a table")
            else:
                child = node[part] = dict(child)
            node = child
        node[parts[-1]] = _parse_scalar(raw)
    return out


def _parse_scalar(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _resolve_env(value: Any, environ: Mapping[str, str], source: str, path: str) -> Any:
    if isinstance(value, Mapping):
        if "$env" in value:
            var, default = value["$env"], value.get("default", "")
            if set(value) - {"$env", "default"} or not isinstance(var, str) or not var:
                raise errors.ConfigError(
                    f'{source}: {path}: write secrets as {{"$env" = "NAME"}} (optionally with default)'
                )
            return environ.get(var) or default
        return {k: _resolve_env(v, environ, source, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, environ, source, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _build(cls: type[Any], data: Any, source: str, path: str) -> Any:
    where = path or "top level"
    if not isinstance(data, Mapping):
        raise errors.ConfigError(f"{source}: {where}: expected a table, got {_tname(data)}")
    fields = {f.name: f for f in attrs.fields(cls) if f.name != "source"}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else key
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise errors.ConfigError(f"{source}: {dotted}: unknown key (known: {known})")
        kwargs[key] = _coerce(hints[key], value, source, dotted)
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        missing = [n for n, f in fields.items() if f.default is attrs.NOTHING and n not in kwargs]
        raise errors.ConfigError(f"{source}: {where}: missing required key {', '.join(missing)}") from e
    except ValueError as e:  # validator: in_(); args = (msg, attribute, options, value)
        field = e.args[1].name if len(e.args) > 1 else "?"
        allowed = ", ".join(map(repr, e.args[2])) if len(e.args) > 2 else "?"
        value = e.args[3] if len(e.args) > 3 else "?"
        dotted = f"{path}.{field}" if path else field
        raise errors.ConfigError(f"{source}: {dotted}: {value!r} is not one of {allowed}") from None


def _coerce(hint: Any, value: Any, source: str, path: str) -> Any:
    origin = typing.get_origin(hint)
    if attrs.has(hint):
        return _build(hint, value, source, path)
    if origin is tuple:
        if not isinstance(value, list):
            raise errors.ConfigError(f"{source}: {path}: expected an array, got {_tname(value)}")
        (item,) = typing.get_args(hint)[:1]
        return tuple(_coerce(item, v, source, f"{path}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise errors.ConfigError(f"{source}: {path}: expected a table, got {_tname(value)}")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool):
        if type(value) is not hint:
            raise errors.ConfigError(
                f"{source}: {path}: expected {_tname(hint())}, got {_tname(value)} {value!r}"
            )
        return value
    if isinstance(hint, types.UnionType):
        return value
    raise errors.ConfigError(f"{source}: {path}: unsupported value {value!r}")  # pragma: no cover


def _dump(obj: Any, name: str = "") -> Any:
    if attrs.has(type(obj)):
        return {
            f.name: _dump(getattr(obj, f.name), f.name) for f in attrs.fields(type(obj)) if f.name != "source"
        }
    if isinstance(obj, tuple):
        return [_dump(v, name) for v in obj]
    if isinstance(obj, Mapping):
        return {k: _dump(v, k) for k, v in obj.items()}
    if isinstance(obj, str) and obj and (name in SECRET_FIELDS or name.endswith(("_token", "password"))):
        return "***"
    if isinstance(obj, str) and name == "url":
        return _mask_url(obj)
    return obj


def _mask_url(url: str) -> str:
    """``amqp://user:secret@host/`` → ``amqp://user:***@host/``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
