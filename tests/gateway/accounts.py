"""Helpers of the auth, user manager and cluster manager tests: calls with a token, users, clusters."""

from __future__ import annotations

import datetime
import functools
from typing import Any

from aiohttp import test_utils
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bcs.testing import ADMIN_TOKEN

__all__ = ["CM", "UM", "bearer", "ca_pem", "call", "grant", "make_cluster", "make_user"]

UM = "/bcsapi/v4/usermanager"
CM = "/bcsapi/v4/clustermanager/v1"


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


async def call(
    client: test_utils.TestClient,
    method: str,
    path: str,
    *,
    token: str | None = ADMIN_TOKEN,
    status: int = 200,
    **kwargs: Any,
) -> dict[str, Any]:
    """The JSON answer of one request, asserting its status (the body is shown on a mismatch)."""
    headers = {**bearer(token), **kwargs.pop("headers", {})}
    async with client.request(method, path, headers=headers, **kwargs) as resp:
        text = await resp.text()
        assert resp.status == status, f"{method} {path}: {resp.status} {text}"
        return await resp.json() if text else {}


async def make_user(client: test_utils.TestClient, name: str, *, kind: str = "plain") -> str:
    """Create a user as the admin; its token."""
    body = await call(client, "POST", f"{UM}/v1/users/{kind}/{name}")
    return body["data"]["user_token"]


async def make_cluster(client: test_utils.TestClient, **fields: Any) -> str:
    """Create a cluster as the admin; its id."""
    body = await call(client, "POST", f"{CM}/cluster", json={"clusterName": "c", **fields})
    return body["data"]["clusterID"]


async def grant(client: test_utils.TestClient, user: str, cluster_id: str, role: str) -> None:
    entry = {"user_name": user, "resource_type": "cluster", "resource": cluster_id, "role": role}
    await call(client, "POST", f"{UM}/v1/permissions", json={"spec": {"permissions": [entry]}})


@functools.cache
def ca_pem() -> str:
    """A self-signed CA certificate, as a cluster's caCertData."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-cluster-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
