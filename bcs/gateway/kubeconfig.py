"""Per-cluster kubeconfigs that go through the gateway (Rancher's model, spec/peers.md §5.3).

The server is ``<scheme>://<host>/clusters/<clusterID>`` as the caller reached this gateway, so a
kubeconfig fetched through a load balancer names the load balancer; the user is the caller's own
bcs token, so kubectl is limited by the caller's role; the gateway's CA is embedded when it has one.
"""

from __future__ import annotations

import base64

import yaml
from aiohttp import web

__all__ = ["build", "server_url"]


def server_url(request: web.Request, cluster_id: str) -> str:
    return f"{request.scheme}://{request.host}/clusters/{cluster_id}"


def build(*, cluster_id: str, server: str, token: str, user: str, ca_pem: str = "") -> str:
    """The kubeconfig YAML with one cluster, one user and one context named after the cluster."""
    cluster: dict[str, str] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    user_name = f"{user}@{cluster_id}"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster_id, "cluster": cluster}],
        "users": [{"name": user_name, "user": {"token": token}}],
        "contexts": [{"name": cluster_id, "context": {"cluster": cluster_id, "user": user_name}}],
        "current-context": cluster_id,
    }
    return yaml.safe_dump(document, sort_keys=False)
