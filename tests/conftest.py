"""Top-level fixtures: the real backing services `make test` started, and the asyncio hygiene guard."""

from __future__ import annotations

pytest_plugins = ["bcs.testing"]
