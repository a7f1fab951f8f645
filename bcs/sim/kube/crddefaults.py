"""Whether a CRD schema's ``default`` values are valid (``defaulting.ValidateDefaults``).

Run once the schema is structural. Each ``default`` (under ``properties`` and ``items``; those under
``additionalProperties`` are not followed, as upstream) must survive pruning by its own node's schema
(``must not have unknown fields``) and validate against it: the errors are the custom resource
validation's (``crvalidation``) with the field at ``….default``. Defaults inside the metadata of an
embedded resource are only value-checked (the apiserver also coerces them into ObjectMeta).
"""

from __future__ import annotations

import copy
from typing import Any

from bcs.sim.kube import crvalidation, schemavalidate, structural
from bcs.sim.kube.crdstructural import schema_map
from bcs.sim.kube.fielderr import Cause, invalid

__all__ = ["errors"]

Schema = dict[str, Any]
_META = ("metadata", "apiVersion", "kind")


def _check(s: Schema, path: str, inside_meta: bool, out: list[Cause]) -> None:
    value = s.get("default")
    if value is None:
        return
    where = f"{path}.default"
    if not inside_meta:
        pruned = copy.deepcopy(value)
        structural.prune(pruned, s, root=bool(s.get("x-kubernetes-embedded-resource")))
        if pruned != value:
            out.append(invalid(where, value, "must not have unknown fields"))
    out.extend(crvalidation.schema_causes(schemavalidate.validate(s, value), where))


def _walk(s: Schema, path: str, inside_meta: bool, out: list[Cause]) -> None:
    embedded = s.get("x-kubernetes-embedded-resource") is True
    if embedded:
        inside_meta = False
    _check(s, path, inside_meta, out)
    items = s.get("items")
    if isinstance(items, dict):
        _walk(items, f"{path}.items", inside_meta, out)
    for k, prop in schema_map(s).items():
        _walk(prop, f"{path}.properties[{k}]", inside_meta or (embedded and k in _META), out)


def errors(schema: Schema, path: str) -> list[Cause]:
    """The errors of the defaults in the ``openAPIV3Schema`` at ``path`` (the resource root)."""
    out: list[Cause] = []
    _walk({**schema, "x-kubernetes-embedded-resource": True}, path, False, out)
    return out
