"""The KV port: a small etcd-shaped key-value store (get, put, prefix range, watch, leases, CAS).

Adapters: :mod:`bcs.core.kv.etcd` (aetcd, production) and :mod:`bcs.core.kv.sqlite` (embedded).
No HTTP and no backend knowledge here; callers keep their keys under ``KvSettings.prefix``.
"""

from __future__ import annotations

from bcs.core.kv.port import KV, KeyValue, Lease, RevisionCompacted, WatchEvent, open_kv

__all__ = ["KV", "KeyValue", "Lease", "RevisionCompacted", "WatchEvent", "open_kv"]
