"""The upstream JSON face of clusters and credentials: request bodies in, wire objects out, filters.

:class:`bcs.core.registry.Cluster` models the fields bcs acts on; the other upstream cluster-manager
fields (``projectID``, ``businessID``, ``clusterType``, ``creator``...) are accepted, kept in the
cluster's ``extra`` map and shown at the top level again, so clients see upstream's shape. Anything
else in a body is a 400, checked before anything is written.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs
from cryptography import x509

from bcs import errors
from bcs.core import registry

__all__ = [
    "CREDENTIAL_FIELDS",
    "LIST_FILTERS",
    "UPSTREAM_FIELDS",
    "check_addresses",
    "check_ca",
    "cluster_body",
    "credential_wire",
    "environment_of",
    "matches",
    "object_body",
    "paging",
    "to_wire",
]

# Upstream Cluster fields (spec/bkbcs.md §2.1) that registry.Cluster does not model.
UPSTREAM_FIELDS = frozenset(
    {
        "federationClusterID", "region", "vpcID", "projectID", "businessID", "isExclusive",
        "clusterType", "creator", "bcsAddons", "extraAddons", "systemID", "manageType", "master",
        "networkSettings", "clusterBasicSettings", "clusterAdvanceSettings", "nodeSettings", "updater",
        "networkType", "autoGenerateMasterNodes", "template", "extraInfo", "moduleID", "extraClusterID",
        "isCommonCluster", "description", "clusterCategory", "is_shared", "kubeConfig", "importCategory",
        "cloudAccountID", "message", "isMixed", "clusterIamRole", "sharedRanges",
    }
)  # fmt: skip
_MODELED = frozenset(f.name for f in attrs.fields(registry.Cluster)) - {"extra"}
_STRINGS = ("clusterID", "clusterName", "provider", "engineType", "environment", "status")
_FIXED = frozenset({"createTime", "updateTime"})
# GET /v1/cluster filters (§2.2); offset, limit, operator and all steer the listing instead.
LIST_FILTERS = (
    "clusterID", "clusterName", "provider", "region", "vpcID", "projectID", "businessID", "environment",
    "engineType", "isExclusive", "clusterType", "federationClusterID", "status", "systemID",
    "extraClusterID", "isCommonCluster",
)  # fmt: skip
CREDENTIAL_FIELDS = (
    "serverKey", "clusterID", "clientModule", "serverAddress", "caCertData", "userToken",
    "clusterDomain", "connectMode", "clientCert", "clientKey",
)  # fmt: skip


def object_body(body: Any, *, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest(f"{what} must be a JSON object")
    return body


def to_wire(cluster: registry.Cluster) -> dict[str, Any]:
    """The cluster as upstream shows it: modeled fields, upstream extras on top, other extras kept."""
    out = cluster.to_json()
    extra = out.pop("extra")
    out.update({k: v for k, v in extra.items() if k in UPSTREAM_FIELDS})
    out["extra"] = {k: v for k, v in extra.items() if k not in UPSTREAM_FIELDS}
    return out


def cluster_body(body: Any, *, creating: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a create/update body into registry fields and upstream extras; BadRequest if invalid.

    A create body may carry ``createTime``/``updateTime`` (a copied object): they are ignored.
    """
    body = object_body(body, what="the cluster")
    unknown = set(body) - _MODELED - UPSTREAM_FIELDS - {"extra"}
    if unknown:
        raise errors.BadRequest(f"unknown cluster field(s): {', '.join(sorted(unknown))}")
    if not creating and _FIXED & set(body):
        raise errors.BadRequest(f"cannot change {', '.join(sorted(_FIXED & set(body)))} of a cluster")
    for name in _STRINGS:
        if name in body and not isinstance(body[name], str):
            raise errors.BadRequest(f"cluster field {name} must be a string")
    if "labels" in body and not (
        isinstance(body["labels"], dict) and all(isinstance(v, str) for v in body["labels"].values())
    ):
        raise errors.BadRequest("cluster field labels must map strings to strings")
    modeled = {k: v for k, v in body.items() if k in _MODELED and k not in _FIXED}
    extra = {k: v for k, v in body.items() if k in UPSTREAM_FIELDS}
    if "extra" in body:
        extra = {**object_body(body["extra"], what="cluster field extra"), **extra}
    return modeled, extra


def environment_of(cluster_id: str) -> str:
    """The environment whose id range holds ``cluster_id`` (``prod`` when none does)."""
    engine, number = registry.parse_cluster_id(cluster_id)
    for (range_engine, environment), (low, high) in registry.ID_RANGES.items():
        if range_engine == engine and low <= number <= high:
            return environment
    return "prod"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def matches(wire: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    return all(_text(wire.get(k)) == v for k, v in filters.items())


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """``offset`` and ``limit`` (0 = no limit) of a listing; BadRequest unless non-negative integers."""
    values = []
    for name in ("offset", "limit"):
        raw = query.get(name, "0") or "0"
        if not raw.isdigit():
            raise errors.BadRequest(f"parameter {name} must be a non-negative integer, got {raw!r}")
        values.append(int(raw))
    return values[0], values[1]


def check_addresses(value: str) -> None:
    """A comma-separated list of http(s)://host[:port] URLs; BadRequest naming the first bad one."""
    addresses = [a.strip() for a in value.split(",") if a.strip()]
    if not addresses:
        raise errors.BadRequest("serverAddress is required: https://host:port[,https://host:port...]")
    for address in addresses:
        try:
            parts = urllib.parse.urlsplit(address)
            parts.port  # noqa: B018 -- raises ValueError for a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.BadRequest(f"invalid serverAddress entry {address!r}: expected https://host:port")


def check_ca(pem: str) -> None:
    """Empty, or PEM certificates (what the proxy will trust); else BadRequest."""
    if not pem:
        return
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise errors.BadRequest(
            "caCertData must be PEM certificates (-----BEGIN CERTIFICATE-----...)"
        ) from None


def credential_wire(credential: registry.Credential, *, secrets: bool) -> dict[str, Any]:
    """A credential as upstream shows it; without ``secrets`` its bearer token is masked."""
    out = credential.to_json()
    if not secrets and out.get("userToken"):
        out["userToken"] = "***"
    return out
