"""``[plugins.k8s.data_watch]``: which kinds and objects are stored, how, and how often they are diffed.

Defaults follow upstream bcs-k8s-watch's ``filter.json`` (spec/bkbcs.md §4.1): the group-versions of
the built-in kinds, the tkex / bkbcs / kubefed custom resources, and an exception list that keeps
ConfigMaps, Secrets, Endpoints, ServiceAccounts, autoscalers, RBAC and webhook configurations out of
storage. Kind patterns are ``"<groupVersion>:<Kind>"`` with ``*`` wildcards on either side, e.g.
``"v1:Secret"``, ``"autoscaling/*:*"`` or ``"*:HorizontalPodAutoscaler"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["DataWatchSettings", "MaskRule"]


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


def _positive(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attr.name} must be positive", attr, ("a positive number",), value)


def _invalid(cls: type, name: str, value: object, expected: str) -> ValueError:
    # The shape attrs validators use, which bcs.config turns into "<key>: <value> is not one of ...".
    return ValueError(f"{name}: expected {expected}", attrs.fields_dict(cls)[name], (expected,), value)


DEFAULT_GROUP_VERSIONS = (
    "v1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "extensions/v1beta1",
    "networking.k8s.io/v1",  # Ingress moved here from extensions/v1beta1
    "autoscaling/*",
    "storage.k8s.io/v1",
    "batch/v1",
    "batch/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
    "apiextensions.k8s.io/v1beta1",
)
DEFAULT_CRDS = (
    "types.kubefed.io",
    "core.kubefed.io",
    "bkbcs.tencent.com/v1",
    "bkbcs.tencent.com/v2",
    "gamedeployments.tkex.tencent.com",
    "gamestatefulsets.tkex.tencent.com",
    "generalpodautoscalers.autoscaling.tkex.tencent.com",
)
DEFAULT_EXCEPTIONS = (
    "v1:ConfigMap",
    "v1:Secret",
    "v1:Endpoints",
    "v1:ServiceAccount",
    "*:HorizontalPodAutoscaler",
    "rbac.authorization.k8s.io/*:*",
    "admissionregistration.k8s.io/*:*",
)


@attrs.frozen
class MaskRule:
    """Blank out ``paths`` (dotted, inside the object) of every ``kind`` object (in ``namespace``)."""

    kind: str = attrs.field(metadata=_doc("Kind the rule applies to, e.g. Secret"))
    paths: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, metadata=_doc("dotted paths such as data.password")
    )
    namespace: str = attrs.field(default="", metadata=_doc("only objects of this namespace; '' = all"))


@attrs.frozen
class DataWatchSettings:
    """The data watch of every Kubernetes cluster this process owns."""

    group_versions: tuple[str, ...] = attrs.field(
        default=DEFAULT_GROUP_VERSIONS,
        converter=tuple,
        metadata=_doc("built-in group/versions watched ('group/*' = every version)"),
    )
    crds: tuple[str, ...] = attrs.field(
        default=DEFAULT_CRDS,
        converter=tuple,
        metadata=_doc("custom resources watched: 'group', 'group/version' or 'plural.group'"),
    )
    exceptions: tuple[str, ...] = attrs.field(
        default=DEFAULT_EXCEPTIONS,
        converter=tuple,
        metadata=_doc("'groupVersion:Kind' patterns never watched (Namespace is always watched)"),
    )
    only: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, metadata=_doc("if non-empty, only these 'groupVersion:Kind' patterns")
    )
    namespace: str = attrs.field(default="", metadata=_doc("watch this namespace only; '' = all"))
    namespace_filters: tuple[str, ...] = attrs.field(
        default=("kube-system",), converter=tuple, metadata=_doc("objects of these namespaces are skipped")
    )
    name_filters: tuple[str, ...] = attrs.field(
        default=("kubernetes",), converter=tuple, metadata=_doc("objects with these names are skipped")
    )
    system_event_prefixes: tuple[str, ...] = attrs.field(
        default=("kube-", "kubedns-", "nginx-proxy", "bcs-"),
        converter=tuple,
        metadata=_doc("kube-system Events whose name starts with one of these are kept"),
    )
    label_selectors: Mapping[str, str] = attrs.field(
        factory=dict, metadata=_doc("Kind -> label selector its watch uses")
    )
    strip_managed_fields: bool = attrs.field(default=True, metadata=_doc("drop metadata.managedFields"))
    masks: tuple[MaskRule, ...] = attrs.field(
        default=(), converter=tuple, metadata=_doc("[[plugins.k8s.data_watch.masks]] kind/namespace/paths")
    )
    extra_labels: Mapping[str, str] = attrs.field(
        factory=dict, metadata=_doc("labels added to every stored object")
    )
    diff_interval: float = attrs.field(
        default=300.0, validator=_positive, metadata=_doc("seconds between diffs against storage")
    )
    discovery_interval: float = attrs.field(
        default=60.0, validator=_positive, metadata=_doc("seconds between API discoveries (new CRDs)")
    )
    # Few writers make big batches: one store round trip carries more (bench/ingest.py measured 2
    # ahead of 8 on SQLite and on a Mongo-wire server alike); objects stay ordered either way.
    shards: int = attrs.field(default=2, metadata=_doc("parallel writers per cluster"))
    batch_size: int = attrs.field(default=500, metadata=_doc("objects one writer stores per round trip"))
    watch_timeout: int = attrs.field(
        default=300, metadata=_doc("seconds one watch request lasts (randomised up to twice that)")
    )
    write_timeout: float = attrs.field(
        default=30.0,
        validator=_positive,
        metadata=_doc("seconds one batch write may take before it is retried"),
    )
    retry_base: float = attrs.field(default=1.0, validator=_positive, metadata=_doc("first retry, seconds"))
    retry_max: float = attrs.field(default=32.0, validator=_positive, metadata=_doc("retry cap, seconds"))
    lease_ttl: int = attrs.field(
        default=15, metadata=_doc("seconds a dead process keeps its clusters before another takes them")
    )
    event_window: float = attrs.field(
        default=3600.0, validator=_positive, metadata=_doc("seconds of Events the diff compares")
    )

    def __attrs_post_init__(self) -> None:
        cls = type(self)
        for name in ("shards", "batch_size", "watch_timeout", "lease_ttl"):
            if getattr(self, name) < 1:
                raise _invalid(cls, name, getattr(self, name), "an integer >= 1")
        if self.retry_max < self.retry_base:
            raise _invalid(cls, "retry_max", self.retry_max, "a number >= retry_base")
        for name in ("exceptions", "only"):
            for pattern in getattr(self, name):
                if ":" not in pattern:
                    raise _invalid(cls, name, pattern, "a 'groupVersion:Kind' pattern")
