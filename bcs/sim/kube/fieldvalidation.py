"""Server-side field validation: ``fieldValidation=Strict|Warn|Ignore`` on create, update and patch.

Decoding a body drops the fields a kind does not declare, whatever the directive (a typed decode has
nowhere to put them; a custom resource is pruned by its structural schema). With ``Strict`` an unknown
or duplicate field fails the request, with ``Warn`` (the default) each becomes a ``Warning`` response
header, with ``Ignore`` nothing is said. Messages and paths are the apiserver's
(``strict decoding error: unknown field "spec.foo", duplicate field "spec.replicas"``).
"""

from __future__ import annotations

import json
from typing import Any

from bcs.sim.kube import gofmt, resources, ssapaths, status, structural, typedcheck, typeschema, yamldecode
from bcs.sim.kube.typedcheck import Dups, loads

__all__ = [
    "IGNORE",
    "STRICT",
    "WARN",
    "Check",
    "Dups",
    "check_apply",
    "parse_patch",
    "directive",
    "go_value",
    "loads",
    "unknown_for_apply",
]

IGNORE, WARN, STRICT = "Ignore", "Warn", "Strict"
_META_MSG = typeschema.MESSAGES["meta.ObjectMeta"]


def directive(value: str | None, options_kind: str) -> str:
    """The effective directive of a request's ``fieldValidation`` (422 for an unknown value)."""
    if not value:
        return WARN
    if value not in (IGNORE, WARN, STRICT):
        raise status.invalid(
            options_kind,
            "meta.k8s.io",
            "",
            [
                (
                    "FieldValueNotSupported",
                    "fieldValidation",
                    f'Unsupported value: "{value}": supported values: "", "Ignore", "Strict", "Warn"',
                )
            ],
        )
    return value


def typed_errors(
    msg: typeschema.Message, obj: dict[str, Any], dups: Dups | None, path: str = ""
) -> list[str]:
    """Strict-decoding errors of ``obj`` as ``msg``; unknown fields are removed from ``obj``."""
    return typedcheck.Decoder(dups).run(msg, obj, path)


def custom_errors(rt: resources.ResourceType, obj: dict[str, Any], dups: Dups | None) -> list[str]:
    """Strict-decoding errors of a custom resource; prunes it by its structural schema."""
    out = dups.everywhere(obj) if dups else []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta_copy = {k: meta[k] for k in sorted(meta)}
        out += [e for e in typed_errors(_META_MSG, meta_copy, None, "metadata") if e.startswith("unknown")]
        obj["metadata"] = {k: v for k, v in meta.items() if k in meta_copy}
    schema = custom_schema(rt)
    if schema is not None:
        out += [f'unknown field "{p}"' for p in structural.prune(obj, schema)]
        structural.prune_nulls(obj, schema)
    return list(dict.fromkeys(out))


def custom_schema(rt: resources.ResourceType) -> dict[str, Any] | None:
    """The structural schema of a custom resource version (None: keep unknown fields)."""
    crd = rt.crd or {}
    schema = (crd.get("schema") or {}).get("openAPIV3Schema")
    if not isinstance(schema, dict) or crd.get("preserveUnknownFields"):
        return None
    return schema


class Check:
    """One write request's directive, the duplicates its body had, and the warnings to send back."""

    def __init__(self, directive: str = WARN, dups: Dups | None = None) -> None:
        self.directive = directive
        self.dups = dups
        # Strict errors found before the typed decode (a YAML body's duplicate keys), reported first.
        self.pre: list[str] = []
        self.warnings: list[str] = []

    @property
    def strict(self) -> bool:
        """Whether strict decoding runs at all (Strict or Warn)."""
        return self.directive in (STRICT, WARN)

    def _decode(
        self, rt: resources.ResourceType, obj: dict[str, Any], msg: typeschema.Message | None
    ) -> tuple[list[str], str | None]:
        """Prune ``obj`` as decoding would: (strict errors, the first type error)."""
        dups = self.dups if self.strict else None
        if rt.is_custom and msg is None:
            return custom_errors(rt, obj, dups), None
        if msg is None:
            return [], None
        decoder = typedcheck.Decoder(dups)
        errs = decoder.run(msg, obj)
        return errs, decoder.type_error

    def decoded(
        self, rt: resources.ResourceType, obj: Any, *, kind: str = "", msg: typeschema.Message | None = None
    ) -> None:
        """Check a create/update body: 400 for a type error or (Strict) unknown/duplicate fields,
        warnings for Warn."""
        if not isinstance(obj, dict):
            return
        if msg is None and not rt.is_custom:
            msg = typeschema.root(rt.group, kind or rt.kind)
        errs, type_error = self._decode(rt, obj, msg)
        errs = self.pre + errs
        body_kind = str(obj.get("kind") or kind or rt.kind)
        version = str(obj.get("apiVersion") or rt.api_version).rpartition("/")[2]
        prefix = f'{body_kind} in version "{version}" cannot be handled as a {kind or rt.kind}: '
        if type_error:
            raise status.bad_request(prefix + type_error)
        if not errs or not self.strict:
            return
        if self.directive == WARN:
            self.warnings += errs
            return
        raise status.bad_request(f"{prefix}strict decoding error: {', '.join(errs)}")

    def patched(
        self,
        rt: resources.ResourceType,
        obj: dict[str, Any],
        patch_errors: list[str],
        shown: str,
        msg: typeschema.Message | None = None,
    ) -> None:
        """Check the result of a patch; ``shown`` is how the 422 quotes the patch or patched object."""
        if msg is None and not rt.is_custom:
            msg = typeschema.root(rt.group, rt.kind)
        saved, self.dups = self.dups, None
        errs, type_error = self._decode(rt, obj, msg)
        self.dups = saved
        if type_error:
            raise _patch_invalid(shown, type_error)
        errs = patch_errors + errs
        if not errs or not self.strict:
            return
        if self.directive == WARN:
            self.warnings += errs
            return
        raise _patch_invalid(shown, f"strict decoding error: {', '.join(errs)}")


def _patch_invalid(shown: str, detail: str) -> status.ApiError:
    return status.invalid("", "", "", [("FieldValueInvalid", "patch", f"Invalid value: {shown}: {detail}")])


def go_value(x: Any) -> str:
    """``fmt.Sprintf("%+v", x)`` of a decoded JSON value (how a strategic-merge 422 quotes the patch)."""
    return gofmt.v(x)


def unknown_for_apply(rt: resources.ResourceType, obj: dict[str, Any]) -> list[str]:
    """Paths an apply configuration sets that the schema does not declare, as SSA prints them
    (``.spec.containers[name="c"].foo``)."""
    probe = json.loads(json.dumps(obj))
    if rt.is_custom:
        meta = probe.get("metadata")
        errs = typed_errors(_META_MSG, meta, None, "metadata") if isinstance(meta, dict) else []
        schema = custom_schema(rt)
        paths = [e.split('"')[1] for e in errs if e.startswith("unknown")]
        paths += structural.prune(probe, schema) if schema is not None else []
        return [ssapaths.from_dotted(obj, p, schema, custom=True) for p in paths]
    msg = typeschema.root(rt.group, rt.kind)
    if msg is None:
        return []
    return [ssapaths.from_dotted(obj, e.split('"')[1]) for e in typed_errors(msg, probe, None)]


_JSON_PATCH_OP_KEYS = ("op", "path", "from", "value")


def parse_patch(raw: bytes, *, json_patch: bool, fv: Check | None) -> tuple[Any, list[str]]:
    """A merge/strategic/JSON patch body and the strict errors of the patch itself."""
    try:
        body, dups = loads(raw, track=fv is not None and fv.strict)
    except ValueError as exc:
        raise status.bad_request(f"error decoding patch: {exc}") from None
    if fv is None or not fv.strict:
        return body, []
    if not json_patch:
        return body, dups.everywhere(body) if dups else []
    errs: list[str] = []
    for i, op in enumerate(body if isinstance(body, list) else []):
        if not isinstance(op, dict):
            continue
        for key in op:
            if key not in _JSON_PATCH_OP_KEYS:
                errs.append(f'json patch unknown field "[{i}].{key}"')
            elif dups and key in dups.of(op):
                errs.append(f'json patch duplicate field "[{i}].{key}"')
        if dups and "value" in op:
            errs += ["json patch " + e for e in dups.everywhere(op["value"], f"[{i}].value")]
    return body, errs


def check_apply(rt: resources.ResourceType, applied: dict[str, Any], raw: bytes, fv: Check) -> None:
    """Server-side apply: undeclared fields fail the typed conversion (a 500, whatever the directive);
    duplicate YAML keys are strict decoding errors."""
    unknown = unknown_for_apply(rt, applied)
    if unknown:
        meta = applied.get("metadata") or {}
        lines = [f"{p}: field not declared in schema" for p in unknown]
        detail = lines[0] if len(lines) == 1 else "errors:\n" + "\n".join("  " + ln for ln in lines)
        gvk = f"{rt.group}/{rt.version}, Kind={rt.kind}"
        where = f"{meta.get('namespace', '')}/{meta.get('name', '')}; {gvk}"
        raise status.ApiError(500, "", f"failed to create typed patch object ({where}): {detail}")
    if not fv.strict:
        return
    dups = yamldecode.duplicates(raw)
    if not dups:
        return
    if fv.directive == WARN:
        fv.warnings += dups
        return
    text = yamldecode.unmarshal_errors(dups)
    raise status.bad_request(f"error strict decoding YAML: error converting YAML to JSON: {text}")
