"""ControllerRevisions of a workload's pod template and the ``controller-revision-hash`` label.

As upstream: the hash is FNV-1a over the template JSON (plus the collision count when non-zero),
safe-encoded; the revision's ``data`` holds the template so pods of an older revision can be recreated
at that revision (partition). A name clash with different data bumps ``status.collisionCount``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bcs.plugins.k8s.kube import client

__all__ = [
    "CONTROLLER_REVISIONS",
    "REVISION_LABEL",
    "template_hash",
    "revision_name",
    "revision_template",
    "new_revision",
    "find_equal",
    "history_to_trim",
]

CONTROLLER_REVISIONS = client.Resource("apps", "v1", "controllerrevisions", "ControllerRevision")
REVISION_LABEL = "controller-revision-hash"
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s rand.SafeEncodeString alphabet: no vowels, no 0/1/3


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """A short, label-safe hash of ``template`` (salted by ``collision_count`` when non-zero)."""
    raw = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        raw += str(collision_count).encode()
    return "".join(_ALPHANUMS[int(c) % len(_ALPHANUMS)] for c in f"{_fnv32a(raw):010d}")


def revision_name(owner: str, hash_: str) -> str:
    return f"{owner}-{hash_}"


def revision_template(rev: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((rev.get("data") or {}).get("spec") or {}).get("template") or {})


def new_revision(
    owner: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    hash_: str,
    number: int,
    labels: Mapping[str, str],
    owner_ref: Mapping[str, Any],
) -> dict[str, Any]:
    """The ControllerRevision manifest for ``template`` of ``owner``."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": revision_name(meta["name"], hash_),
            "namespace": meta.get("namespace"),
            "labels": {**labels, REVISION_LABEL: hash_},
            "ownerReferences": [dict(owner_ref)],
        },
        "data": {"spec": {"template": dict(template)}},
        "revision": number,
    }


def find_equal(revisions: Sequence[Mapping[str, Any]], template: Mapping[str, Any]) -> dict[str, Any] | None:
    """The newest revision whose stored template equals ``template``."""
    same = [r for r in revisions if revision_template(r) == template]
    return dict(max(same, key=lambda r: int(r.get("revision") or 0))) if same else None


def history_to_trim(
    revisions: Sequence[Mapping[str, Any]], *, keep: int, in_use: set[str]
) -> list[dict[str, Any]]:
    """Old revisions beyond ``keep`` that no live pod and no status field (``in_use`` names) needs."""
    old = sorted(
        (r for r in revisions if (r.get("metadata") or {}).get("name") not in in_use),
        key=lambda r: int(r.get("revision") or 0),
    )
    excess = len(old) - keep
    return [dict(r) for r in old[: max(excess, 0)]]
