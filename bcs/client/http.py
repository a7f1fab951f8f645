"""One call to the gateway: URL, bearer token, TLS trust, and the bk-bcs envelope unwrapped.

The client is a short-lived command, so it uses the standard library's blocking ``urllib`` (no event
loop to block). The token comes from ``$BCS_TOKEN`` or a file and is sent only in the
``Authorization`` header: never in a URL, never printed.
"""

from __future__ import annotations

import json
import os
import pathlib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["DEFAULT_SERVER", "ClientError", "Gateway", "from_args"]

DEFAULT_SERVER = "https://127.0.0.1:8080"
TIMEOUT = 30.0  # seconds per request


class ClientError(Exception):
    """The call failed: ``message`` says why, ``status`` is the HTTP status (0 = no answer)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@attrs.frozen
class Gateway:
    """Where the gateway is and how to talk to it."""

    server: str
    token: str = attrs.field(repr=False)
    ca_file: str = ""
    insecure: bool = False

    def _context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https:"):
            return None
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.ca_file or None)

    def raw(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        accept: str = "application/json",
    ) -> bytes:
        """The response body of ``method path``; ClientError for an error status or no answer."""
        url = self.server.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v not in (None, "")})
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=self._context()) as resp:
                return resp.read()
        except urllib.error.HTTPError as e:
            raise ClientError(_error_message(e.read(), e.reason), status=e.code) from None
        except urllib.error.URLError as e:
            raise ClientError(f"cannot reach {self.server}: {e.reason}") from None
        except (OSError, ValueError) as e:
            raise ClientError(f"cannot reach {self.server}: {e}") from None

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The envelope's ``data`` of a call (ClientError when ``result`` is false)."""
        raw = self.raw(method, path, **kwargs)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ClientError(f"{self.server} did not answer JSON (is it a bcs gateway?)") from None
        if not isinstance(answer, dict) or not answer.get("result", False):
            raise ClientError(_error_message(raw, "request failed"))
        return answer.get("data")


def _error_message(raw: bytes, fallback: str) -> str:
    try:
        answer = json.loads(raw)
    except ValueError:
        return str(fallback)
    if isinstance(answer, dict) and answer.get("message"):
        return str(answer["message"])
    return str(fallback)


def from_args(args: Any, environ: Mapping[str, str] | None = None) -> Gateway:
    """The gateway the command line and ``$BCS_SERVER``/``$BCS_TOKEN``/``$BCS_CA_FILE`` name."""
    environ = os.environ if environ is None else environ
    token = ""
    if args.token_file:
        try:
            token = pathlib.Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ClientError(f"cannot read --token-file {args.token_file}: {e.strerror}") from None
    token = token or environ.get("BCS_TOKEN", "").strip()
    if not token:
        raise ClientError("no token: set BCS_TOKEN, or pass --token-file FILE")
    return Gateway(
        server=args.server or environ.get("BCS_SERVER") or DEFAULT_SERVER,
        token=token,
        ca_file=args.ca_file or environ.get("BCS_CA_FILE", ""),
        insecure=bool(args.insecure),
    )
