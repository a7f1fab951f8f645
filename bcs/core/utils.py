"""Small helpers shared by the core and the plugins."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["await_me_maybe"]


async def await_me_maybe(value: Any) -> Any:
    """Resolve a hook result: call it if callable, await it if awaitable, else return it.

    pluggy is synchronous, so a hook that may need I/O returns an awaitable (or a callable returning
    one); every call site resolves results through this one helper.
    """
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value
