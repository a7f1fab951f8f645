"""What every storage handler shares: the route prefix, the service, failure codes, request bodies."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from bcs import envelope, errors
from bcs.storage.service import core

__all__ = [
    "DELETE_FAILED",
    "ENV",
    "GET_FAILED",
    "LIST_FAILED",
    "PREFIX",
    "PUT_FAILED",
    "STORAGE",
    "failing",
    "optional_json",
    "service",
]

# The service's AppKey, re-exported as ``bcs.keys.STORAGE``; it lives here because ``bcs.storage``
# must not import ``bcs.keys`` (which names gateway types, a layer above).
STORAGE: web.AppKey[core.StorageService] = web.AppKey("storage", core.StorageService)
PREFIX = "/bcsapi/v4/storage"  # upstream /bcsstorage/v1
ENV = "{env:k8s|mesos}"

# Upstream codes for a failed operation (the HTTP status stays the error's own, e.g. 503).
PUT_FAILED, GET_FAILED, DELETE_FAILED, LIST_FAILED = 1405082, 1405083, 1405084, 1405085


def service(request: web.Request) -> core.StorageService:
    return request.app[STORAGE]


@contextlib.contextmanager
def failing(code: int) -> Iterator[None]:
    """Report an unavailable store with the operation's upstream code."""
    try:
        yield
    except errors.PortUnavailable as e:
        raise errors.PortUnavailable(e.message, code=code) from None


async def optional_json(request: web.Request) -> Any:
    """The JSON body, or None when the body is empty (non-JSON is still a 400)."""
    if not await request.read():
        return None
    return await envelope.read_json(request)
