"""Discovery documents: /version, legacy /api and /apis lists, and aggregated discovery (v2).

kubectl picks aggregated versus legacy from the response Content-Type alone, so ``wants_aggregated``
looks at the Accept header and the server must answer with ``AGGREGATED_CT`` exactly.
"""

from __future__ import annotations

from typing import Any

from bcs.sim.kube import resources

__all__ = [
    "AGGREGATED_CT",
    "VERSION",
    "aggregated",
    "api_versions",
    "group_list",
    "resource_list",
    "wants_aggregated",
]

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
# minor "32" pins the kubectl dispatcher to its bundled 1.32 client (see spec/kubectl-protocol.md §0).
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def wants_aggregated(accept: str) -> bool:
    return "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace("v=v2beta1", "") + ";"


def _verbs(rt: resources.ResourceType) -> list[str]:
    return list(resources.VERBS)


def _sub_kind(rt: resources.ResourceType, sub: str) -> tuple[str, str, str, list[str]]:
    """(group, version, kind, verbs) of a subresource."""
    if sub == "scale":
        return "autoscaling", "v1", "Scale", list(resources.SUB_VERBS)
    if sub == "exec":
        return "", "v1", "PodExecOptions", ["create", "get"]
    if sub == "log":
        return "", "v1", "Pod", ["get"]
    if sub == "binding":
        return "", "v1", "Binding", ["create"]
    if sub == "finalize":
        return "", "v1", "Namespace", ["update"]
    if sub == "ephemeralcontainers":
        return "", "v1", "Pod", list(resources.SUB_VERBS)
    return rt.group, rt.version, rt.kind, list(resources.SUB_VERBS)


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def group_list(reg: resources.Registry) -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in reg.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(reg: resources.Registry, name: str) -> dict[str, Any] | None:
    versions = reg.group_versions().get(name)
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def resource_list(reg: resources.Registry, group_name: str, version: str) -> dict[str, Any] | None:
    types = reg.in_group_version(group_name, version)
    if not types:
        return None
    out: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": _verbs(rt),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        out.append(entry)
        for sub in rt.subresources:
            g, v, kind, verbs = _sub_kind(rt, sub)
            sub_entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": verbs,
            }
            if (g, v) != (rt.group, rt.version):
                sub_entry["group"], sub_entry["version"] = g, v
            out.append(sub_entry)
    gv = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def _discovery_resource(rt: resources.ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": _verbs(rt),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in rt.subresources:
        g, v, kind, verbs = _sub_kind(rt, sub)
        subs.append(
            {"subresource": sub, "responseKind": {"group": g, "version": v, "kind": kind}, "verbs": verbs}
        )
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(reg: resources.Registry, *, core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList for /api (core=True) or /apis."""
    items = []
    for name, versions in reg.group_versions().items():
        if bool(name) == core:
            continue
        vers = [
            {
                "version": v,
                "freshness": "Current",
                "resources": [_discovery_resource(rt) for rt in reg.in_group_version(name, v)],
            }
            for v in versions
        ]
        items.append({"metadata": {"name": name, "creationTimestamp": None}, "versions": vers})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
