"""The gateway's TLS material: ``[server] tls`` = ``auto``, ``off`` or ``files``.

kubectl sends bearer tokens only over TLS (spec/kubectl-protocol.md §0.3), so the gateway serves
HTTPS by default. ``auto`` makes a private CA and a serving certificate in ``<data_dir>/tls/`` at
first start and reuses them afterwards; the serving certificate is re-issued (by the same CA) when the
configured host is not among its names, or when it is about to expire. Kubeconfigs embed the CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import pathlib
import socket
import ssl
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bcs import errors

if TYPE_CHECKING:
    from bcs.config import ServerSettings

__all__ = ["TLS_DIR", "TlsFiles", "prepare", "server_context", "wanted_names"]

logger = logging.getLogger(__name__)

TLS_DIR = "tls"
CA_DAYS = 3650
CERT_DAYS = 825
RENEW_BEFORE = datetime.timedelta(days=30)


@attrs.frozen
class TlsFiles:
    """Where the serving certificate and key are, and the CA PEM clients should trust ("" if unknown)."""

    cert_file: pathlib.Path
    key_file: pathlib.Path
    ca_pem: str = attrs.field(default="", repr=False)
    ca_file: pathlib.Path | None = None


def wanted_names(host: str) -> list[str]:
    """The names the serving certificate covers: localhost, 127.0.0.1, the bound host, the hostname."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    if host and host not in ("0.0.0.0", "::"):
        names.append(host)
    return list(dict.fromkeys(n for n in names if n))


def prepare(server: ServerSettings, *, data_dir: pathlib.Path) -> TlsFiles | None:
    """The files to serve TLS with, creating them for ``auto``; None when TLS is ``off``.

    Blocking file and key work: call it before the event loop starts, or through a thread.
    """
    if server.tls == "off":
        return None
    if server.tls == "files":
        return _configured(server)
    return _auto(data_dir / TLS_DIR, wanted_names(server.host))


def server_context(files: TlsFiles) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as e:
        raise errors.ConfigError(f"server.cert_file/key_file: cannot load {files.cert_file}: {e}") from None
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


# -- tls = files ----------------------------------------------------------------------------------


def _configured(server: ServerSettings) -> TlsFiles:
    if not server.cert_file or not server.key_file:
        raise errors.ConfigError("server.tls = 'files' needs server.cert_file and server.key_file")
    cert, key = pathlib.Path(server.cert_file), pathlib.Path(server.key_file)
    for name, path in (("cert_file", cert), ("key_file", key)):
        if not path.is_file():
            raise errors.ConfigError(f"server.{name}: no such file {path}")
    return TlsFiles(cert_file=cert, key_file=key, ca_pem=_chain_root(cert.read_bytes()))


def _chain_root(chain: bytes) -> str:
    """The chain's last certificate when it is a CA (so kubeconfigs can embed it), else ""."""
    try:
        certs = x509.load_pem_x509_certificates(chain)
    except ValueError:
        return ""
    last = certs[-1]
    try:
        is_ca = last.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return last.public_bytes(serialization.Encoding.PEM).decode() if is_ca else ""


# -- tls = auto -----------------------------------------------------------------------------------


def _auto(directory: pathlib.Path, names: list[str]) -> TlsFiles:
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = directory / "ca.crt", directory / "ca.key"
    cert, key = directory / "server.crt", directory / "server.key"
    if not (ca_cert.is_file() and ca_key.is_file()):
        ca, signer = _make_ca()
        _write_key(ca_key, signer)
        ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        logger.info("generated the gateway CA %s", ca_cert)
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    if not _still_good(cert, key, ca, names):
        signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        assert isinstance(signer, ec.EllipticCurvePrivateKey)
        leaf, leaf_key = _make_leaf(ca, signer, names)
        _write_key(key, leaf_key)
        cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        logger.info("issued the gateway certificate %s for %s", cert, ", ".join(names))
    return TlsFiles(cert_file=cert, key_file=key, ca_pem=ca_cert.read_text(), ca_file=ca_cert)


def _still_good(cert: pathlib.Path, key: pathlib.Path, ca: x509.Certificate, names: list[str]) -> bool:
    if not (cert.is_file() and key.is_file()):
        return False
    try:
        leaf = x509.load_pem_x509_certificate(cert.read_bytes())
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    have = {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    have |= set(sans.get_values_for_type(x509.DNSName))
    fresh = leaf.not_valid_after_utc - RENEW_BEFORE > datetime.datetime.now(datetime.UTC)
    return leaf.issuer == ca.subject and fresh and set(names) <= have


def _write_key(path: pathlib.Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o600)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bcs"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _validity(days: int) -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)


def _make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _validity(CA_DAYS)
    subject = _name(f"bcs gateway CA {socket.gethostname()}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    ca: x509.Certificate, signer: ec.EllipticCurvePrivateKey, names: list[str]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    start, end = _validity(CERT_DAYS)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("bcs gateway"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
        .sign(signer, hashes.SHA256())
    )
    return cert, key
