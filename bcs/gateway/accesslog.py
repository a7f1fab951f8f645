"""The access log: one line per finished request, with no secrets in it.

Only the path and the query are written, with credentials masked: the values of credential-like
query parameters, and a token named in the path (the user manager's ``/v1/tokens/{token}`` accepts a
whole token; only its public 8-character id is kept). Headers (and so ``Authorization``) never are.
Streaming responses (watches, exec) are logged when they end.
"""

from __future__ import annotations

import logging
import re
import urllib.parse

from aiohttp import abc, web

from bcs import logs

__all__ = ["SECRET_PARAMS", "AccessLogger", "safe_target"]

SECRET_PARAMS = frozenset({"token", "access_token", "user_token", "usertoken", "password", "secret", "key"})
_TOKEN_IN_PATH = re.compile(r"(/tokens/[^/?]{0,8})[^/?]*")


def safe_target(request: web.BaseRequest) -> str:
    """``path?query`` with credentials replaced by ``***`` (see the module docstring)."""
    path = request.path
    if "/tokens/" in path:
        path = _TOKEN_IN_PATH.sub(
            lambda m: m.group(1) + ("***" if len(m.group(0)) > len(m.group(1)) else ""), path
        )
    query = request.rel_url.raw_query_string
    if not query:
        return path
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    masked = [(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs]
    return f"{path}?{urllib.parse.urlencode(masked, safe='*')}"


class AccessLogger(abc.AbstractAccessLogger):
    """For ``web.AppRunner(access_log_class=AccessLogger, access_log=logging.getLogger("bcs.access"))``."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        rid = response.headers.get("X-Request-Id") or request.headers.get("X-Request-Id") or "-"
        token = logs.REQUEST_ID.set(rid)
        try:
            self.logger.info(
                '%s "%s %s" %d %d %.1fms',
                request.remote or "-",
                request.method,
                safe_target(request),
                response.status,
                response.body_length,
                time * 1000.0,
                extra={"request_id": rid},
            )
        finally:
            logs.REQUEST_ID.reset(token)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
