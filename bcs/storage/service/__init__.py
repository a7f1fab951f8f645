"""The storage service: the write path (store write + outbox entry → publication), the query layer
and the watch hub, shared by the HTTP API (:mod:`bcs.storage.http`) and in-process callers such as
the data watch. No HTTP here.

Modules: :mod:`~bcs.storage.service.documents` (resources, collections, rendering),
:mod:`~bcs.storage.service.core` (``StorageService``), :mod:`~bcs.storage.service.records` (events,
alarms, custom resources), :mod:`~bcs.storage.service.watch` (bus fan-out to watch streams).
Import the modules, not names (``from bcs.storage.service import core``): the outbox imports
``documents``, so this package imports nothing eagerly.
"""

from __future__ import annotations

__all__: list[str] = []
