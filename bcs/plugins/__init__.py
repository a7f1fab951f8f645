"""Built-in plugins: one sub-package per orchestration backend, plus the core's own defaults.

Plugins never import each other (import-linter): federation reaches member clusters through the
registry and the storage service. Every plugin uses only the public hooks of ``bcs.hookspecs``.
"""
