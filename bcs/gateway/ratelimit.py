"""Per-token rate limiting: a token bucket per caller, 429 with ``Retry-After`` when it is empty.

Upstream's gateway puts ``limit-req`` (rate 1000, burst 500, reject 429) on every service; here the
bucket is per bearer token (per client address for requests without one), refilled at
``[server] rate_limit`` per second and holding at most ``rate_burst`` requests. ``rate_limit = 0``
turns it off. Buckets are keyed by a digest of the token, never the token itself, and idle full
buckets are forgotten so the table stays small.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from aiohttp import web

from bcs import errors, keys
from bcs.gateway import auth

__all__ = ["RateLimiter", "caller_key", "rate_limit"]

PRUNE_AT = 50_000  # buckets; above this, full (idle) ones are dropped


class RateLimiter:
    """Token buckets by key; :meth:`take` spends one token or says how long to wait for one."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = float(max(burst, 1))
        self._clock = clock
        self._buckets: dict[bytes, list[float]] = {}  # key -> [tokens, last refill time]

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: bytes) -> float:
        """0.0 when the request may go ahead, else the seconds until the bucket has a token again."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[key] = [self.capacity, now]
        tokens = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [
            k
            for k, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.capacity
        ]
        for k in full:
            del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


def caller_key(request: web.Request) -> bytes:
    """A digest of the bearer token, or of the client address when there is none."""
    token = auth.bearer_token(request)
    seed = f"t:{token}" if token else f"a:{request.remote}"
    return hashlib.blake2b(seed.encode(), digest_size=16).digest()


@web.middleware
async def rate_limit(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Refuse with 429 (and ``Retry-After``) past the caller's budget; runs before the auth middleware."""
    limiter = request.app[keys.RATE_LIMITER]
    if limiter.enabled:
        wait = limiter.take(caller_key(request))
        if wait > 0.0:
            raise errors.TooManyRequests(
                f"rate limit exceeded: {limiter.rate:g} requests/s per token (burst {limiter.capacity:g}); "
                f"retry in {wait:.2f}s",
                retry_after=wait,
            )
    return await handler(request)
