"""The kinds a simulated cluster serves: built-in core/apps/... types plus CRD-defined ones.

A ``ResourceType`` says everything the generic handlers, discovery, OpenAPI and tables need to know.
Each cluster owns a ``Registry`` because CustomResourceDefinitions differ between clusters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

__all__ = ["BUILTINS", "Registry", "ResourceType"]

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUB_VERBS = ("get", "patch", "update")
# Fields every kind can be selected on; kinds add their own in ``field_paths``.
COMMON_FIELDS = ("metadata.name", "metadata.namespace")


@attrs.frozen
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # Extra selectable fields (dotted paths into the object) besides metadata.name/namespace.
    field_paths: tuple[str, ...] = ()
    # Name of the kubernetes_asyncio model class that describes the kind (OpenAPI schemas).
    model: str = ""
    # metadata.generation is kept and bumped on spec changes only for these kinds.
    has_generation: bool = False
    # Set for custom resources: the CRD's version entry and names.
    crd: dict[str, Any] | None = attrs.field(default=None, eq=False, hash=False)
    # Set for a kind that is another kind's storage seen in a different shape (``views``): the
    # storage key of the kind whose objects it shows (events.k8s.io/v1 Events show core Events).
    storage: str = ""

    @property
    def key(self) -> str:
        """Storage key: one per (group, plural), shared by all versions (and by views)."""
        return self.storage or self.own_key

    @property
    def own_key(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def is_view(self) -> bool:
        return bool(self.storage)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def is_custom(self) -> bool:
        return self.crd is not None

    def base_path(self, namespace: str | None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def selectable(self) -> tuple[str, ...]:
        return COMMON_FIELDS + self.field_paths


def _rt(group: str, version: str, kind: str, plural: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType(group, version, kind, plural, namespaced, **kw)


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
# events.k8s.io/v1 field labels (``views`` maps them onto the core Event fields above).
_VIEW_EVENT_FIELDS = (
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "source",
    "type",
)

BUILTINS: tuple[ResourceType, ...] = (
    _rt(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        short_names=("ns",),
        subresources=("status", "finalize"),
        field_paths=("status.phase",),
        model="V1Namespace",
    ),
    _rt(
        "",
        "v1",
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        subresources=("status", "log", "exec", "binding", "ephemeralcontainers"),
        field_paths=_POD_FIELDS,
        model="V1Pod",
    ),
    _rt(
        "",
        "v1",
        "Service",
        "services",
        short_names=("svc",),
        categories=("all",),
        subresources=("status",),
        model="V1Service",
    ),
    _rt("", "v1", "Endpoints", "endpoints", short_names=("ep",), model="V1Endpoints"),
    _rt("", "v1", "ConfigMap", "configmaps", short_names=("cm",), model="V1ConfigMap"),
    _rt(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        short_names=("pvc",),
        subresources=("status",),
        model="V1PersistentVolumeClaim",
    ),
    _rt("", "v1", "Secret", "secrets", field_paths=("type",), model="V1Secret"),
    _rt(
        "",
        "v1",
        "Node",
        "nodes",
        False,
        short_names=("no",),
        subresources=("status",),
        field_paths=("spec.unschedulable",),
        model="V1Node",
    ),
    _rt("", "v1", "Event", "events", short_names=("ev",), field_paths=_EVENT_FIELDS, model="CoreV1Event"),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), model="V1ServiceAccount"),
    _rt(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        short_names=("ev",),
        field_paths=_VIEW_EVENT_FIELDS,
        model="EventsV1Event",
        storage="/events",
    ),
    _rt(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        categories=("all",),
        subresources=("status", "scale"),
        model="V1Deployment",
        has_generation=True,
    ),
    _rt(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        categories=("all",),
        subresources=("status", "scale"),
        field_paths=("status.replicas",),
        model="V1ReplicaSet",
        has_generation=True,
    ),
    _rt(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short_names=("sts",),
        categories=("all",),
        subresources=("status", "scale"),
        model="V1StatefulSet",
        has_generation=True,
    ),
    _rt(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short_names=("ds",),
        categories=("all",),
        subresources=("status",),
        model="V1DaemonSet",
        has_generation=True,
    ),
    _rt("apps", "v1", "ControllerRevision", "controllerrevisions", model="V1ControllerRevision"),
    _rt("coordination.k8s.io", "v1", "Lease", "leases", model="V1Lease"),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        short_names=("crd", "crds"),
        subresources=("status",),
        model="V1CustomResourceDefinition",
        has_generation=True,
    ),
    _rt(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        False,
        subresources=("status",),
        model="V1APIService",
    ),
)


class Registry:
    """The resource types one cluster serves, indexed every way the handlers look them up."""

    def __init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._custom: dict[str, list[ResourceType]] = {}  # CRD name -> its served versions
        for rt in BUILTINS:
            self._by_gvr[(rt.group, rt.version, rt.plural)] = rt
        self.generation = 0  # bumped when the served set changes (discovery/OpenAPI caches)
        self.cache: dict[Any, Any] = {}

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def by_key(self, key: str) -> ResourceType | None:
        group, _, plural = key.partition("/")
        for rt in self._by_gvr.values():
            if rt.group == group and rt.plural == plural:
                return rt
        return None

    def builtin(self, group: str, plural: str) -> ResourceType:
        for rt in BUILTINS:
            if rt.group == group and rt.plural == plural:
                return rt
        raise KeyError(f"{group}/{plural}")

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_gvr.values()))

    def stored(self) -> Iterator[ResourceType]:
        """The served kinds that own their storage (views of another kind's objects left out)."""
        return (rt for rt in self if not rt.is_view)

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions, the preferred (first) version first."""
        out: dict[str, list[str]] = {}
        for rt in self._by_gvr.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_gvr.values() if rt.group == group and rt.version == version]

    def find_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self._by_gvr.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def set_custom(self, crd_name: str, types: list[ResourceType]) -> None:
        """Serve (or stop serving, with an empty list) the versions a CRD defines."""
        for old in self._custom.pop(crd_name, []):
            self._by_gvr.pop((old.group, old.version, old.plural), None)
        if types:
            self._custom[crd_name] = types
            for rt in types:
                self._by_gvr[(rt.group, rt.version, rt.plural)] = rt
        self.generation += 1
        self.cache.clear()
