"""``[server] tls``: the generated CA and certificate (made once, reused, re-issued when the host
changes), configured files, off; and a real handshake trusting only the generated CA."""

from __future__ import annotations

import asyncio
import pathlib
import ssl

import pytest
from cryptography import x509

from bcs import app as app_mod
from bcs import config, errors, keys
from bcs.gateway import tls
from bcs.testing import embedded_settings


def _server(**values: object) -> config.ServerSettings:
    return config.build_section(config.ServerSettings, values, source="<test>", path="server")


def _sans(path: pathlib.Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in sans.get_values_for_type(x509.IPAddress)} | set(
        sans.get_values_for_type(x509.DNSName)
    )


def test_auto_makes_a_ca_and_a_certificate_once_and_reuses_them(tmp_path: pathlib.Path) -> None:
    first = tls.prepare(_server(), data_dir=tmp_path)
    assert first is not None
    assert first.ca_file is not None
    assert {"localhost", "127.0.0.1"} <= _sans(first.cert_file)
    assert (first.key_file.stat().st_mode & 0o777) == 0o600
    assert ((tmp_path / "tls" / "ca.key").stat().st_mode & 0o777) == 0o600
    cert_bytes = first.cert_file.read_bytes()

    again = tls.prepare(_server(), data_dir=tmp_path)
    assert again == first
    assert again is not None
    assert again.cert_file.read_bytes() == cert_bytes


def test_auto_reissues_the_certificate_for_a_new_host_with_the_same_ca(tmp_path: pathlib.Path) -> None:
    first = tls.prepare(_server(), data_dir=tmp_path)
    moved = tls.prepare(_server(host="127.1.2.3"), data_dir=tmp_path)
    assert first is not None
    assert moved is not None
    assert moved.ca_pem == first.ca_pem
    assert "127.1.2.3" in _sans(moved.cert_file)
    leaf = x509.load_pem_x509_certificate(moved.cert_file.read_bytes())
    ca = x509.load_pem_x509_certificate(moved.ca_pem.encode())
    leaf.verify_directly_issued_by(ca)


def test_off_serves_plain_http_and_files_need_both_files(tmp_path: pathlib.Path) -> None:
    assert tls.prepare(_server(tls="off"), data_dir=tmp_path) is None
    with pytest.raises(errors.ConfigError, match=r"cert_file and server\.key_file"):
        tls.prepare(_server(tls="files"), data_dir=tmp_path)
    with pytest.raises(errors.ConfigError, match="no such file"):
        tls.prepare(_server(tls="files", cert_file=str(tmp_path / "x.crt"), key_file="y"), data_dir=tmp_path)


def test_files_mode_uses_the_given_pair_and_finds_the_ca_at_the_end_of_the_chain(
    tmp_path: pathlib.Path,
) -> None:
    made = tls.prepare(_server(), data_dir=tmp_path / "made")
    assert made is not None
    chain = tmp_path / "chain.pem"
    chain.write_bytes(made.cert_file.read_bytes() + made.ca_pem.encode())
    files = tls.prepare(
        _server(tls="files", cert_file=str(chain), key_file=str(made.key_file)), data_dir=tmp_path
    )
    assert files is not None
    assert files.cert_file == chain
    assert files.ca_pem == made.ca_pem
    tls.server_context(files)  # loads
    only_leaf = tls.prepare(
        _server(tls="files", cert_file=str(made.cert_file), key_file=str(made.key_file)), data_dir=tmp_path
    )
    assert only_leaf is not None
    assert only_leaf.ca_pem == ""


async def test_a_client_trusting_only_the_generated_ca_completes_the_handshake(
    tmp_path: pathlib.Path,
) -> None:
    files = tls.prepare(_server(), data_dir=tmp_path)
    assert files is not None

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=tls.server_context(files))
    port = server.sockets[0].getsockname()[1]
    try:
        for name in ("127.0.0.1", "localhost"):
            client = ssl.create_default_context(cadata=files.ca_pem)
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname=name
            )
            assert await reader.read() == b"hello"
            writer.close()
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection("127.0.0.1", port, ssl=ssl.create_default_context())
    finally:
        server.close()
        await server.wait_closed()


def test_the_app_exposes_the_generated_ca_for_kubeconfigs(tmp_path: pathlib.Path) -> None:
    app = app_mod.create_app(embedded_settings(tmp_path / "data"))
    assert app[keys.GATEWAY_CA_PEM] == (tmp_path / "data" / "tls" / "ca.crt").read_text()
    assert app[keys.GATEWAY_CA_PEM].startswith("-----BEGIN CERTIFICATE-----")
    plain = app_mod.create_app(embedded_settings(tmp_path / "plain", server={"tls": "off"}))
    assert plain[keys.GATEWAY_CA_PEM] == ""
