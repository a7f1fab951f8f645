"""HookTemplate/HookRun data: phases, Go durations, the parsed ``Metric``, args and HookRun creation.

Objects travel as the plain dicts the API serves; this module parses the parts the controller reasons
about (``Metric``) and validates them the way bk-bcs' ``ValidateMetrics`` does, so an invalid spec ends
the run in ``Error`` with a message instead of looping.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from bcs.plugins.k8s.kube import client

__all__ = [
    "GROUP",
    "VERSION",
    "HOOKRUNS",
    "HOOKTEMPLATES",
    "PENDING",
    "RUNNING",
    "SUCCESSFUL",
    "FAILED",
    "ERROR",
    "INCONCLUSIVE",
    "COMPLETED",
    "ORDERED",
    "PARALLEL",
    "DEFAULT_CONSECUTIVE_ERROR_LIMIT",
    "ERROR_RETRY_INTERVAL",
    "MEASUREMENT_HISTORY_LIMIT",
    "SpecError",
    "Metric",
    "parse_duration",
    "parse_metrics",
    "resolve_args",
    "merge_args",
    "worse",
    "hookrun_from_template",
    "now",
    "format_time",
    "parse_time",
]

GROUP, VERSION = "tkex.tencent.com", "v1alpha1"
HOOKRUNS = client.Resource(GROUP, VERSION, "hookruns", "HookRun")
HOOKTEMPLATES = client.Resource(GROUP, VERSION, "hooktemplates", "HookTemplate")

PENDING, RUNNING, SUCCESSFUL = "Pending", "Running", "Successful"
FAILED, ERROR, INCONCLUSIVE = "Failed", "Error", "Inconclusive"
COMPLETED = frozenset({SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE})
# best -> worst, as bk-bcs' hookStatusOrder
_ORDER = {p: i for i, p in enumerate((SUCCESSFUL, RUNNING, PENDING, INCONCLUSIVE, ERROR, FAILED))}
ORDERED, PARALLEL = "Ordered", "Parallel"

DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
ERROR_RETRY_INTERVAL = 10.0  # seconds before an errored measurement is retried when no interval is set
MEASUREMENT_HISTORY_LIMIT = 10  # measurements kept per metric in status

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class SpecError(ValueError):
    """The HookRun's spec cannot be run as written; the message says why."""


def worse(a: str, b: str) -> bool:
    """True when phase ``b`` is worse than phase ``a``."""
    return _ORDER.get(b, 0) > _ORDER.get(a, 0)


def parse_duration(text: str) -> float:
    """A Go duration (``"60s"``, ``"1m30s"``, ``"500ms"``) in seconds."""
    s = text.strip()
    if s in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise SpecError(f"invalid duration {text!r}")
    return total


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def format_time(t: datetime.datetime) -> str:
    """RFC 3339 in UTC with microseconds (metav1.Time parses fractional seconds)."""
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@attrs.frozen
class Metric:
    """One ``spec.metrics[]`` entry, parsed; limits keep bk-bcs' field names."""

    name: str
    provider_name: str  # "web" | "prometheus" | "kubernetes"
    provider: Mapping[str, Any]
    interval: float | None = None  # seconds; None when unset
    initial_delay: float | None = None
    count: int = 0
    success_condition: str = ""
    failure_condition: str = ""
    failure_limit: int = 0
    successful_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT
    consecutive_successful_limit: int | None = None

    @property
    def effective_count(self) -> int | None:
        """``count`` if > 0, else 1 without an interval, else None (unlimited)."""
        if self.count > 0:
            return self.count
        return 1 if self.interval is None else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], index: int) -> Metric:
        where = f"metrics[{index}]"
        name = data.get("name") or ""
        if not name:
            raise SpecError(f"{where}: name is required")
        provider = data.get("provider") or {}
        kinds = [k for k in ("web", "prometheus", "kubernetes") if provider.get(k) is not None]
        if len(kinds) != 1:
            raise SpecError(
                f"{where} ({name}): exactly one provider (web, prometheus, kubernetes) is required"
            )

        def dur(key: str) -> float | None:
            raw = data.get(key)
            if raw in (None, ""):
                return None
            try:
                return parse_duration(str(raw))
            except SpecError as e:
                raise SpecError(f"{where} ({name}).{key}: {e}") from None

        def num(key: str, default: int | None = 0) -> int | None:
            raw = data.get(key)
            if raw is None:
                return default
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise SpecError(f"{where} ({name}).{key}: must be an integer")
            return raw

        interval = dur("interval")
        count = num("count") or 0
        if count > 1 and interval is None:
            raise SpecError(f"{where} ({name}): count > 1 requires an interval")
        if count < 0:
            raise SpecError(f"{where} ({name}).count: must not be negative")
        return cls(
            name=name,
            provider_name=kinds[0],
            provider=provider[kinds[0]],
            interval=interval,
            initial_delay=dur("initialDelay"),
            count=count,
            success_condition=data.get("successCondition") or "",
            failure_condition=data.get("failureCondition") or "",
            failure_limit=num("failureLimit") or 0,
            successful_limit=num("successfulLimit") or 0,
            inconclusive_limit=num("inconclusiveLimit") or 0,
            consecutive_error_limit=num("consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT) or 0,
            consecutive_successful_limit=num("consecutiveSuccessfulLimit", None),
        )


def parse_metrics(spec: Mapping[str, Any]) -> list[Metric]:
    """All metrics of a HookRun spec; names must be unique and at least one metric must exist."""
    raw = spec.get("metrics") or []
    if not raw:
        raise SpecError("spec.metrics must list at least one metric")
    metrics = [Metric.from_dict(m, i) for i, m in enumerate(raw)]
    seen: set[str] = set()
    for m in metrics:
        if m.name in seen:
            raise SpecError(f"metric name {m.name!r} is used twice")
        seen.add(m.name)
    policy = spec.get("policy") or PARALLEL
    if policy not in (PARALLEL, ORDERED):
        raise SpecError(f"spec.policy must be {PARALLEL} or {ORDERED}, not {policy!r}")
    return metrics


def resolve_args(args: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    """The HookRun's args as ``{name: value}``; an arg without a value is an unresolved required arg."""
    out: dict[str, str] = {}
    missing = []
    for arg in args or []:
        name = arg.get("name") or ""
        if arg.get("value") is None:
            missing.append(name)
        else:
            out[name] = str(arg["value"])
    if missing:
        raise SpecError(f"args {', '.join(repr(m) for m in missing)} have no value: they must be supplied")
    return out


def merge_args(
    template_args: Sequence[Mapping[str, Any]] | None, supplied: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    """Template args with the supplied values overriding the defaults (unsupplied stay as declared)."""
    supplied = dict(supplied or {})
    out = []
    for arg in template_args or []:
        name = arg.get("name")
        entry: dict[str, Any] = {"name": name}
        if name in supplied:
            entry["value"] = str(supplied.pop(name))
        elif arg.get("value") is not None:
            entry["value"] = str(arg["value"])
        out.append(entry)
    out += [{"name": k, "value": str(v)} for k, v in supplied.items()]
    return out


def hookrun_from_template(
    template: Mapping[str, Any],
    *,
    name: str,
    args: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    owner: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A HookRun manifest instantiating ``template`` (as bk-bcs' ``NewHookRunFromTemplate``).

    ``args`` override the template defaults; template args left without a value stay unresolved and
    make the controller end the run in Error. ``owner`` is an ownerReference (the workload).
    """
    spec = template.get("spec") or {}
    meta: dict[str, Any] = {"name": name, "namespace": (template.get("metadata") or {}).get("namespace")}
    if labels:
        meta["labels"] = dict(labels)
    if owner:
        meta["ownerReferences"] = [dict(owner)]
    return {
        "apiVersion": HOOKRUNS.api_version,
        "kind": HOOKRUNS.kind,
        "metadata": meta,
        "spec": {
            "metrics": copy.deepcopy(list(spec.get("metrics") or [])),
            "args": merge_args(spec.get("args"), args),
            "policy": spec.get("policy") or PARALLEL,
        },
    }
