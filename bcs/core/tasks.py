"""Named, referenced, guarded background tasks (kopf's ``create_guarded_task``).

A guarded task logs any unexpected exit or exception under its name, so a background failure is never
silent; :func:`stop_tasks` cancels a set of tasks and waits for them, bounded by a timeout;
:func:`cancel_and_wait` does it without a bound. Neither swallows the *caller's* own cancellation, as
``task.cancel(); with suppress(CancelledError): await task`` would when the caller is cancelled too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import attrs

__all__ = ["TaskSpec", "cancel_and_wait", "create_guarded_task", "stop_tasks"]

logger = logging.getLogger(__name__)


@attrs.frozen
class TaskSpec:
    """A named background loop a plugin asks for; ``factory()`` returns the coroutine to run."""

    name: str
    factory: Callable[[], Coroutine[Any, Any, Any]]
    eternal: bool = True  # returning early is logged as an error


def _report_exit(task: asyncio.Task[Any], *, eternal: bool) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("background task %s failed", task.get_name(), exc_info=exc)
    elif eternal:
        logger.error("background task %s exited unexpectedly", task.get_name())


def create_guarded_task(
    *, name: str, coro: Coroutine[Any, Any, Any], eternal: bool = True
) -> asyncio.Task[Any]:
    """Start ``coro`` as a task named ``name``; keep the returned reference (RUF006).

    A failure is logged under the task's name when it happens, not when someone awaits the task;
    ``eternal`` tasks are expected to run until cancelled, so returning is logged as an error too.
    """
    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(functools.partial(_report_exit, eternal=eternal))
    return task


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], *, timeout: float = 10.0) -> None:
    """Cancel ``tasks`` and wait for them; log the ones that do not finish within ``timeout``."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if not pending:
        return
    done, hung = await asyncio.wait(pending, timeout=timeout)
    for task in done:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()
    for task in hung:
        logger.error("background task %s did not stop within %.1fs", task.get_name(), timeout)


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel ``tasks`` and wait until they end; their results and errors are dropped (a guarded task
    logged its failure already). A cancellation of the caller still propagates."""
    pending = [t for t in tasks if t is not None and not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" warning
