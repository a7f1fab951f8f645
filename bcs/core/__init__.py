"""The core: backend contract, cluster registry, KV and Bus ports with their adapters, task supervision.

No HTTP here and no knowledge of any particular backend: the core never imports ``bcs.gateway``,
``bcs.storage``, ``bcs.plugins`` or ``bcs.sim`` (import-linter enforces it).
"""
