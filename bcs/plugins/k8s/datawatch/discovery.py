"""API discovery: every resource the apiserver serves, as :class:`ApiResource` values.

Reads ``/api``, ``/api/<v>``, ``/apis`` and ``/apis/<group>/<version>`` (upstream uses client-go's
discovery client the same way). A group-version that fails to answer (an aggregated API whose
backend is down) is logged and left out rather than failing the whole discovery: the next
discovery picks it up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import attrs

from bcs import errors
from bcs.plugins.k8s.kube import client

__all__ = ["ApiResource", "Discovery", "discover", "parse_resource_list"]

logger = logging.getLogger(__name__)

CONCURRENCY = 8  # group-versions fetched at once


@attrs.frozen
class ApiResource:
    """One served resource (a top-level one: subresources such as ``pods/status`` are separate)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    verbs: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def subresource(self) -> bool:
        return "/" in self.plural

    def resource(self) -> client.Resource:
        return client.Resource(self.group, self.version, self.plural, self.kind, self.namespaced)


@attrs.frozen
class Discovery:
    """What one discovery found; ``failed`` group-versions did not answer (keep what they had)."""

    resources: tuple[ApiResource, ...]
    failed: frozenset[str] = frozenset()


def parse_resource_list(group_version: str, listing: Mapping[str, Any]) -> list[ApiResource]:
    """The resources of one ``APIResourceList`` answer."""
    group, _, version = group_version.rpartition("/")
    out = []
    for item in listing.get("resources") or []:
        try:
            out.append(
                ApiResource(
                    group=group,
                    version=version,
                    kind=str(item["kind"]),
                    plural=str(item["name"]),
                    namespaced=bool(item.get("namespaced", True)),
                    verbs=tuple(item.get("verbs") or ()),
                )
            )
        except KeyError:
            continue  # a malformed entry says nothing we could watch
    return out


async def _group_versions(kube: client.KubeClient) -> list[str]:
    core = await kube.request("GET", "/api")
    found = [str(v) for v in core.get("versions") or []]
    groups = await kube.request("GET", "/apis")
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        versions = [str(v["groupVersion"]) for v in group.get("versions") or [] if "groupVersion" in v]
        # Preferred version first: when two versions serve one kind, the first one seen is kept.
        if preferred in versions:
            versions.remove(preferred)
            versions.insert(0, preferred)
        found.extend(versions)
    return found


async def discover(kube: client.KubeClient) -> Discovery:
    """Every resource the cluster serves, core group first, then the groups in the server's order.

    The group lists failing is an error (raised); one group-version failing is recorded in ``failed``.
    """
    group_versions = await _group_versions(kube)
    limit = asyncio.Semaphore(CONCURRENCY)
    failed: set[str] = set()

    async def fetch(gv: str) -> list[ApiResource]:
        path = f"/api/{gv}" if "/" not in gv else f"/apis/{gv}"
        async with limit:
            try:
                return parse_resource_list(gv, await kube.request("GET", path))
            except errors.BcsError as e:
                logger.warning("discovery of %s failed (%s); skipped this time", gv, e.message)
                failed.add(gv)
                return []

    lists = await asyncio.gather(*(fetch(gv) for gv in group_versions))
    return Discovery(tuple(r for found in lists for r in found), frozenset(failed))
