"""The Store port: the synced copy of every cluster's resources (upsert, soft delete, queries).

Adapters: :mod:`bcs.storage.store.mongo` (MongoDB, production) and :mod:`bcs.storage.store.sqlite`
(embedded JSON1 file). Conditions and queries live in :mod:`bcs.storage.store.conditions`.
"""

from __future__ import annotations

from bcs.storage.store.port import IndexInfo, Store, Upsert, open_store

__all__ = ["IndexInfo", "Store", "Upsert", "open_store"]
