"""The settings tree: shipped files, overrides, secrets, and precise errors."""

from __future__ import annotations

import pathlib

import pytest

from bcs import config, errors

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_embedded_config_loads_with_embedded_adapters() -> None:
    s = config.BcsSettings.from_file(ROOT / "config" / "bcs.toml", environ={})
    assert (s.kv.backend, s.store.backend, s.bus.backend) == ("sqlite", "sqlite", "memory")
    assert (s.server.host, s.server.port) == ("127.0.0.1", 8080)
    assert s.auth.admin_token == ""  # BCS_ADMIN_TOKEN unset: serve generates one


def test_production_config_loads_with_real_services() -> None:
    env = {"BCS_ADMIN_TOKEN": "t0ken", "BCS_AMQP_URL": "amqp://u:p@mq:5672/"}
    s = config.BcsSettings.from_file(ROOT / "config" / "bcs.production.toml", environ=env)
    assert (s.kv.backend, s.store.backend, s.bus.backend) == ("etcd", "mongo", "rabbitmq")
    assert s.auth.admin_token == "t0ken"
    assert s.bus.url == "amqp://u:p@mq:5672/"
    assert s.store.url == "mongodb://127.0.0.1:27017/"  # the $env default
    assert s.plugin_config("k8s")["operators"] == ["gamedeployment", "gamestatefulset", "hook"]


def test_environment_overrides_parse_toml_values() -> None:
    env = {
        "BCS_SERVER__PORT": "18080",
        "BCS_KV__ENDPOINTS": '["http://a:1", "http://b:2"]',
        "BCS_BUS__EXCHANGE": "x",
    }
    s = config.BcsSettings.from_mapping({"server": {"port": 1}}, environ=env)
    assert s.server.port == 18080
    assert s.kv.endpoints == ("http://a:1", "http://b:2")
    assert s.bus.exchange == "x"


def test_environment_override_of_wrong_type_names_the_key() -> None:
    with pytest.raises(errors.ConfigError, match=r"server\.port: expected integer, got string"):
        config.BcsSettings.from_mapping({}, source="f.toml", environ={"BCS_SERVER__PORT": "eighty"})


def test_env_indirection_reads_the_variable_and_falls_back_to_default() -> None:
    data = {"auth": {"admin_token": {"$env": "TOK"}}, "bus": {"url": {"$env": "MQ", "default": "amqp://d/"}}}
    s = config.BcsSettings.from_mapping(data, environ={"TOK": "secret"})
    assert (s.auth.admin_token, s.bus.url) == ("secret", "amqp://d/")
    assert "secret" not in repr(s)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"server": {"prot": 1}}, "f.toml: server.prot: unknown key"),
        ({"server": {"port": "80"}}, "f.toml: server.port: expected integer, got string '80'"),
        ({"kv": {"backend": "zookeeper"}}, "f.toml: kv.backend: 'zookeeper' is not one of 'sqlite', 'etcd'"),
        ({"clusters": [{"engine": "k8s"}]}, "f.toml: clusters[0]: missing required key id"),
        ({"clusters": {"id": "x"}}, "f.toml: clusters: expected an array, got table"),
        ({"plugins": {"k8s": 3}}, "f.toml: plugins.k8s: expected a table, got integer"),
        ({"auth": {"admin_token": {"$env": ""}}}, "f.toml: auth.admin_token: write secrets as"),
        ({"nope": {}}, "f.toml: nope: unknown key"),
    ],
)
def test_bad_values_fail_with_one_line_naming_file_and_key(data: dict, message: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        config.BcsSettings.from_mapping(data, source="f.toml", environ={})
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_toml(tmp_path: pathlib.Path) -> None:
    with pytest.raises(errors.ConfigError, match=r"nope\.toml: no such file"):
        config.BcsSettings.from_file(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport = 1\n")
    with pytest.raises(errors.ConfigError, match=r"bad\.toml: invalid TOML"):
        config.BcsSettings.from_file(bad)


def test_static_clusters_are_typed() -> None:
    s = config.BcsSettings.from_mapping(
        {"clusters": [{"id": "BCS-K8S-40001", "server": "https://127.0.0.1:6443", "token": "abc"}]},
        environ={},
    )
    (c,) = s.clusters
    assert (c.id, c.engine, c.server, c.token) == ("BCS-K8S-40001", "k8s", "https://127.0.0.1:6443", "abc")


def test_masked_hides_secrets_and_url_passwords() -> None:
    s = config.BcsSettings.from_mapping(
        {
            "auth": {"admin_token": "sekrit"},
            "bus": {"url": "amqp://guest:pw@h:5672/"},
            "clusters": [{"id": "BCS-K8S-40001", "token": "tok", "ca_data": "PEM"}],
        },
        environ={},
    )
    dumped = config.masked(s)
    assert dumped["auth"]["admin_token"] == "***"
    assert dumped["bus"]["url"] == "amqp://guest:***@h:5672/"
    assert dumped["clusters"][0]["token"] == "***"
    assert dumped["clusters"][0]["ca_data"] == "***"
    assert dumped["server"]["port"] == 8080
    assert "sekrit" not in repr(dumped)
    assert "pw@" not in repr(dumped)


def test_settings_are_frozen() -> None:
    s = config.BcsSettings.defaults()
    with pytest.raises(AttributeError):
        s.server.port = 1  # type: ignore[misc]
