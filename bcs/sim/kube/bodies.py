"""Request bodies of the object verbs: media type negotiation, JSON/YAML/protobuf decoding, warnings.

Built-in kinds accept ``application/json``, ``application/yaml`` and
``application/vnd.kubernetes.protobuf``; custom resources JSON and YAML only. A missing
Content-Type is read as JSON (``kubectl scale --current-replicas`` sends none). With strict
decoding (``fieldValidation`` Strict or Warn) JSON and YAML are parsed keeping track of duplicate keys.
"""

from __future__ import annotations

from typing import Any

import yaml
from aiohttp import web

from bcs.sim.kube import fieldvalidation, protobuf, resources, status, yamldecode

__all__ = ["add_warnings", "check_for", "read"]

_JSON = "application/json"
_YAML = "application/yaml"


def media_type(request: web.Request) -> str:
    return (request.headers.get("Content-Type") or _JSON).split(";")[0].strip().lower()


def check_for(request: web.Request, options_kind: str) -> fieldvalidation.Check:
    """The request's field validation (``options_kind``: CreateOptions, UpdateOptions, PatchOptions)."""
    return fieldvalidation.Check(
        fieldvalidation.directive(request.query.get("fieldValidation"), options_kind)
    )


async def read(
    request: web.Request,
    rt: resources.ResourceType,
    fv: fieldvalidation.Check | None = None,
    *,
    kind: str = "",
) -> Any:
    """The decoded body (None when empty); duplicate keys are recorded on ``fv``."""
    raw = await request.read()
    ctype = media_type(request)
    if ctype == protobuf.CONTENT_TYPE:
        return protobuf.decode(raw, rt, kind) if raw else None
    if ctype not in (_JSON, _YAML):
        accepted = f"{_JSON}, {_YAML}" + ("" if rt.is_custom else f", {protobuf.CONTENT_TYPE}")
        raise status.unsupported_media(
            f"the body of the request was in an unknown format - accepted media types include: {accepted}"
        )
    if not raw.strip():
        return None
    strict = fv is not None and fv.strict
    try:
        if ctype == _YAML:
            body, yaml_dups = yamldecode.load(raw)
            if fv is not None and strict and yaml_dups:
                fv.pre = [yamldecode.unmarshal_errors(yaml_dups)]
            return body
        body, dups = fieldvalidation.loads(raw, track=strict)
    except (ValueError, yaml.YAMLError) as exc:
        raise status.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    if fv is not None:
        fv.dups = dups
    return body


def _quote(text: str) -> str:
    """A warning's quoted text as the apiserver writes it (Go's HTTP server turns newlines into spaces)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", " ").replace("\n", " ") + '"'


def add_warnings(resp: web.StreamResponse, fv: fieldvalidation.Check | None) -> web.StreamResponse:
    """``Warning: 299 - "..."`` headers, one per warning (kubectl prints them as ``Warning: ...``)."""
    if fv is not None:
        for text in dict.fromkeys(fv.warnings):
            resp.headers.add("Warning", f"299 - {_quote(text)}")
    return resp
