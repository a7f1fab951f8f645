"""Storage: the Store port and its adapters, label selectors, and (later) the sync and publication
of cluster resources. Persistence and sync only: no HTTP, no backend imports (``bcs.storage`` may
use ``bcs.core``, never the reverse)."""

from __future__ import annotations

__all__: list[str] = []
