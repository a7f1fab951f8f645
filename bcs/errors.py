"""The error hierarchy of bcs, mapped to HTTP in exactly one middleware (`bcs.gateway.errors`).

Every error carries a class-level HTTP ``status`` and a bk-bcs ``code`` for the response envelope
``{"result": false, "code": ..., "message": ..., "data": null}``.  Scheduler and sync loops use
:class:`PermanentError` versus :class:`TemporaryError` to decide whether a retry can help.
"""

from __future__ import annotations

import math

__all__ = [
    "BackendUnavailable",
    "BadRequest",
    "BcsError",
    "ClusterNotFound",
    "ClusterUnavailable",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "GatewayTimeout",
    "NotFound",
    "PermanentError",
    "PortUnavailable",
    "StartupError",
    "TemporaryError",
    "TooManyRequests",
    "Unauthorized",
]

# bk-bcs `AdditionErrorCode`: module error codes count up from here.
ADDITION_ERROR_CODE = 1405000


class BcsError(Exception):
    """Base of every error bcs raises on purpose; ``status`` is the HTTP status it maps to."""

    status: int = 500
    code: int = ADDITION_ERROR_CODE

    def __init__(self, message: str, *, code: int | None = None, data: object = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.data = data


class BadRequest(BcsError):
    """The request is malformed; nothing was changed."""

    status = 400
    code = ADDITION_ERROR_CODE + 80


class Unauthorized(BcsError):
    """No token, or a token that is unknown or expired."""

    status = 401
    code = ADDITION_ERROR_CODE + 401


class Forbidden(BcsError):
    """A valid token without the permission the request needs."""

    status = 403
    code = ADDITION_ERROR_CODE + 403


class NotFound(BcsError):
    """The addressed object does not exist."""

    status = 404
    code = ADDITION_ERROR_CODE + 87


class ClusterNotFound(NotFound):
    """No cluster with that id is registered."""


class Conflict(BcsError):
    """The object exists already, or changed since it was read."""

    status = 409
    code = ADDITION_ERROR_CODE + 409


class BackendUnavailable(BcsError):
    """A cluster or an upstream service did not answer; the message names it."""

    status = 502
    code = ADDITION_ERROR_CODE + 502


class ClusterUnavailable(BackendUnavailable):
    """The registry's health probe marks the cluster unreachable: refused at once, not after a timeout."""

    status = 503
    code = ADDITION_ERROR_CODE + 503


class GatewayTimeout(BackendUnavailable):
    """A cluster or an upstream service did not answer in time; the message names it."""

    status = 504
    code = ADDITION_ERROR_CODE + 504


class TooManyRequests(BcsError):
    """The caller's token spent its rate budget; ``retry_after`` is in seconds."""

    status = 429
    code = ADDITION_ERROR_CODE + 429

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}


class PortUnavailable(BackendUnavailable):
    """A backing service (KV, Store or Bus) is unreachable."""

    status = 503
    code = ADDITION_ERROR_CODE + 503


class StartupError(BcsError):
    """The process cannot start as configured (bad plugin config, duplicate backend...)."""


class ConfigError(StartupError):
    """The configuration file or environment is invalid; the message names the key and the file."""


class PermanentError(BcsError):
    """A background operation failed in a way that retrying cannot fix."""


class TemporaryError(BcsError):
    """A background operation failed but may succeed after ``delay`` seconds."""

    def __init__(self, message: str, *, delay: float = 5.0, code: int | None = None) -> None:
        super().__init__(message, code=code)
        self.delay = delay
