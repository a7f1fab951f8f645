"""managedFields bookkeeping and server-side apply (``application/apply-patch+yaml``).

Good enough that repeated ``kubectl apply --server-side`` is idempotent, that fields an applier
stops sending are removed (unless another manager owns them), and that changing a field another
manager owns with a different value is a 409 ``FieldManagerConflict`` unless ``force=true``.
"""

from __future__ import annotations

import copy
from typing import Any

from bcs.sim.kube import fieldsets, patch, ssapaths, status

__all__ = ["apply", "record_update"]


def _entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj.get("metadata", {}).get("managedFields") or [])


def _set_entries(obj: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    entries = [e for e in entries if e.get("fieldsV1")]
    if entries:
        obj["metadata"]["managedFields"] = entries
    else:
        obj["metadata"].pop("managedFields", None)


def _entry(
    manager: str, op: str, api_version: str, now: str, paths: set[fieldsets.Path], sub: str
) -> dict[str, Any]:
    entry = {
        "manager": manager,
        "operation": op,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": fieldsets.to_fields_v1(paths),
    }
    if sub:
        entry["subresource"] = sub
    return entry


def _strip_meta(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    api_version: str,
    now: str,
    sub: str = "",
) -> None:
    """Credit ``manager`` (an Update operation) with the fields that changed from ``old`` to ``new``."""
    new_paths = fieldsets.of(_strip_meta(new))
    if old is None:
        changed = new_paths
    else:
        old_clean = _strip_meta(old)
        new_clean = _strip_meta(new)
        changed = {p for p in new_paths if fieldsets.get(old_clean, p) != fieldsets.get(new_clean, p)}
    entries = _entries(new)
    if not changed:
        _set_entries(new, entries)
        return
    out: list[dict[str, Any]] = []
    mine: set[fieldsets.Path] = set()
    for e in entries:
        paths = fieldsets.from_fields_v1(e.get("fieldsV1") or {})
        if e.get("manager") == manager and e.get("operation") == "Update" and e.get("subresource", "") == sub:
            mine = paths
            continue
        paths -= changed
        out.append({**e, "fieldsV1": fieldsets.to_fields_v1(paths)} if paths else {**e, "fieldsV1": {}})
    out.append(_entry(manager, "Update", api_version, now, (mine | changed) & new_paths, sub))
    _set_entries(new, out)


def _merge_applied(live: Any, applied: Any, names: tuple[str, ...]) -> Any:
    """Overlay the applied configuration on the live object (keyed lists merge by key)."""
    if isinstance(applied, dict) and isinstance(live, dict):
        out = dict(live)
        for key, value in applied.items():
            out[key] = _merge_applied(live.get(key), value, (*names, key))
        return out
    if isinstance(applied, list) and isinstance(live, list):
        key = patch.merge_key(names)
        if key and all(isinstance(i, dict) for i in applied) and all(isinstance(i, dict) for i in live):
            out = [dict(i) for i in live]
            for item in applied:
                idx = next((n for n, o in enumerate(out) if o.get(key) == item.get(key)), None)
                if idx is None:
                    out.append(copy.deepcopy(item))
                else:
                    out[idx] = _merge_applied(out[idx], item, names)
            return out
        if names and names[-1] == "finalizers":
            return live + [v for v in applied if v not in live]
    return copy.deepcopy(applied)


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    api_version: str,
    now: str,
    conflict_name: tuple[str, str, str],
) -> dict[str, Any]:
    """The object after ``manager`` applies ``applied`` to ``live`` (None: the object is new)."""
    new_paths = fieldsets.of(applied)
    base = copy.deepcopy(live) if live is not None else {"metadata": {}}
    entries = _entries(base)
    prev: set[fieldsets.Path] = set()
    others: list[tuple[dict[str, Any], set[fieldsets.Path]]] = []
    for e in entries:
        paths = fieldsets.from_fields_v1(e.get("fieldsV1") or {})
        if e.get("manager") == manager and e.get("operation") == "Apply":
            prev = paths
        else:
            others.append((e, paths))
    live_clean = _strip_meta(base)
    conflicts: list[tuple[str, fieldsets.Path, str]] = []
    for e, paths in others:
        for p in sorted(paths & new_paths):
            if p[-1].startswith(("k:", "v:")):
                continue  # list elements are co-owned; only leaf values conflict
            if fieldsets.get(live_clean, p) != fieldsets.get(applied, p):
                conflicts.append((e.get("manager", ""), p, e.get("apiVersion", "")))
    if conflicts and not force:
        raise _conflict_error(conflicts, conflict_name, live_clean)
    lost = {p for _, p, _ in conflicts}
    result = _merge_applied(live_clean, applied, ())
    owned_by_others: set[fieldsets.Path] = set()
    for _, paths in others:
        owned_by_others |= paths - lost
    # Fields this applier dropped and nobody else claims are removed; deepest paths first.
    for p in sorted(prev - new_paths - owned_by_others, key=len, reverse=True):
        fieldsets.remove(result, p)
    out_entries = []
    for e, paths in others:
        rest = paths - lost
        out_entries.append({**e, "fieldsV1": fieldsets.to_fields_v1(rest) if rest else {}})
    out_entries.append(_entry(manager, "Apply", api_version, now, new_paths, ""))
    result.setdefault("metadata", {})
    _set_entries(result, out_entries)
    return result


def _conflict_error(
    conflicts: list[tuple[str, fieldsets.Path, str]], name: tuple[str, str, str], live: dict[str, Any]
) -> status.ApiError:
    plural, group, obj_name = name
    lines = [f'conflict with "{m}" using {v}: {ssapaths.from_fields(p, live)}' for m, p, v in conflicts]
    n = len(conflicts)
    if n == 1:
        message = f"Apply failed with 1 conflict: {lines[0]}"
    else:
        message = f"Apply failed with {n} conflicts: " + "\n".join(lines)
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{m}" using {v}',
            "field": ssapaths.from_fields(p, live),
        }
        for m, p, v in conflicts
    ]
    return status.ApiError(
        409, "Conflict", message, {"name": obj_name, "group": group, "kind": plural, "causes": causes}
    )
