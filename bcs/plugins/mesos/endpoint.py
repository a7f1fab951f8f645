"""The Mesos driver as upstream's gateway finds it: an endpoint in the KV port and ``/mesosdriver/v4``.

While this process leads a cluster's scheduler, it registers itself as that cluster's Mesos driver
under ``<kv prefix>services/endpoints/mesosdriver/<clusterID>/<ip>`` (bk-bcs §1.6), on a lease kept
alive by :class:`bcs.core.discovery.Registration`, which writes the key again if it vanishes and
revokes the lease on a clean shutdown (a process that dies leaves the key to expire with its lease).
The value is upstream's ``ServerInfo``. A gateway in another process routes the cluster's
``/bcsapi/v4/scheduler/mesos/{path}`` requests to ``<scheme>://<ip>:<port>/mesosdriver/v4/{path}``,
which this process's gateway hands to the Mesos backend; the gateway of this very process answers
them in process without the loopback hop.

The advertised address is ``[plugins.mesos] driver_address`` when set, else ``[server]`` host, port
and TLS; a wildcard host advertises this host's primary address, and port 0 (only known once the
server listens) advertises nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import urllib.parse
from typing import TYPE_CHECKING

import bcs
from bcs import errors
from bcs.core import discovery

if TYPE_CHECKING:
    from bcs.config import ServerSettings

__all__ = ["driver_info", "parse_address", "primary_ip"]

logger = logging.getLogger(__name__)

_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def primary_ip() -> str:
    """The address this host reaches others from (a connected UDP socket sends nothing)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, only used to pick the interface
        return str(s.getsockname()[0])
    return "127.0.0.1"


def parse_address(driver_address: str) -> tuple[str, str, int]:
    """``http(s)://<ip>:<port>`` as (scheme, ip, port); anything else is a ConfigError."""
    parts = urllib.parse.urlsplit(driver_address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port or parts.path.strip("/"):
        raise errors.ConfigError(
            f"plugins.mesos.driver_address: {driver_address!r} must be http(s)://<ip>:<port>"
        )
    return parts.scheme, parts.hostname, port


def _address(driver_address: str, server: ServerSettings) -> tuple[str, str, int] | None:
    """(scheme, ip, port) to advertise, or None when the port is not known before listening."""
    if driver_address:
        return parse_address(driver_address)
    if server.port == 0:
        return None
    host = primary_ip() if server.host in _WILDCARDS else server.host
    return ("http" if server.tls == "off" else "https"), host, server.port


def driver_info(
    cluster_id: str, *, driver_address: str, server: ServerSettings
) -> discovery.ServerInfo | None:
    """The ``ServerInfo`` this process registers for ``cluster_id`` (None: nothing to advertise)."""
    found = _address(driver_address, server)
    if found is None:
        return None
    scheme, ip, port = found
    return discovery.ServerInfo(
        ip=ip,
        port=port,
        hostname=socket.gethostname(),
        scheme=scheme,
        version=bcs.__version__,
        cluster=cluster_id,
        pid=os.getpid(),
        external_ip=ip,
        external_port=port,
    )
