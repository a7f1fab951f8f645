"""Per-token rate limiting: token buckets, 429 with Retry-After in the body shape of the path."""

from __future__ import annotations

import pytest
from aiohttp import web

from bcs import app as app_mod
from bcs import keys
from bcs.gateway import ratelimit
from bcs.testing import ADMIN_TOKEN, embedded_settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = ratelimit.RateLimiter(10.0, 3, clock=clock)
    assert [limiter.take(b"a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take(b"a")
    assert wait == pytest.approx(0.1)
    assert limiter.take(b"b") == 0.0  # another caller has its own bucket
    clock.now += 0.11
    assert limiter.take(b"a") == 0.0
    assert limiter.take(b"a") > 0.0
    clock.now += 10.0  # refills to the burst, never beyond
    assert [limiter.take(b"a") for _ in range(4)][-1] > 0.0


def test_idle_buckets_are_forgotten_when_the_table_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "PRUNE_AT", 10)
    clock = Clock()
    limiter = ratelimit.RateLimiter(100.0, 5, clock=clock)
    for i in range(10):
        limiter.take(str(i).encode())
    clock.now += 1.0
    limiter.take(b"new")
    assert len(limiter) == 1


def test_zero_rate_turns_it_off() -> None:
    assert not ratelimit.RateLimiter(0.0, 500).enabled


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    settings = embedded_settings(tmp_path / "data", server={"rate_limit": 0.5, "rate_burst": 2})
    return await aiohttp_client(app_mod.create_app(settings))


async def test_past_the_burst_a_token_gets_429_with_retry_after(client) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for _ in range(2):
        assert (await client.get("/bcsapi/v4/version", headers=headers)).status == 200
    resp = await client.get("/bcsapi/v4/version", headers=headers)
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "2"
    body = await resp.json()
    assert body["result"] is False
    assert body["code"] == 1405429
    assert "rate limit" in body["message"]
    other = await client.get("/bcsapi/v4/version", headers={"Authorization": "Bearer someone-else"})
    assert other.status != 429  # refused for its token (401), not for the first token's rate


async def test_on_the_cluster_proxy_the_429_is_a_kubernetes_status(client) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for _ in range(2):
        await client.get("/clusters/BCS-K8S-40001/version", headers=headers)
    resp = await client.get("/clusters/BCS-K8S-40001/version", headers=headers)
    assert resp.status == 429
    assert "Retry-After" in resp.headers
    body = await resp.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "TooManyRequests", 429)


def test_the_limiter_comes_from_the_settings(tmp_path) -> None:
    app = app_mod.create_app(embedded_settings(tmp_path, server={"rate_limit": 7.0, "rate_burst": 9}))
    limiter = app[keys.RATE_LIMITER]
    assert (limiter.rate, limiter.capacity) == (7.0, 9.0)
    assert isinstance(app, web.Application)
