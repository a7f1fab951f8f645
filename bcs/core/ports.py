"""What every port (KV, Store, Bus) shares: a name, a lifecycle and a health check.

``/readyz`` pings each port; the composition root starts them in order and closes them in reverse.
"""

from __future__ import annotations

import abc

__all__ = ["Port"]


class Port(abc.ABC):
    """A backing service behind an adapter. Methods may raise :class:`bcs.errors.PortUnavailable`."""

    name: str = "port"  # "kv", "store" or "bus": how /readyz and error messages name it

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect (or open the file). Called once before any other method; a service that is down
        may make it raise PortUnavailable, or the adapter may connect lazily and let ``ping`` say so."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections, threads and background work; safe to call twice."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return when the service answers; raise PortUnavailable (naming the port) when it does not."""
