"""Mesos driver registration on the KV port: a leased endpoint that comes back when deleted, and the
watch-fed view the gateway routes by (both adapters)."""

from __future__ import annotations

import orjson
import pytest

from bcs import errors
from bcs.core import discovery, tasks
from bcs.core import kv as kv_mod
from tests import services


def _driver(ip: str = "127.0.0.7", cluster: str = "BCS-MESOS-10001") -> discovery.ServerInfo:
    return discovery.ServerInfo(ip=ip, port=8090, cluster=cluster, hostname="driver-1", version="v4")


def test_the_key_is_upstreams_path() -> None:
    assert (
        discovery.endpoint_key("/bcs/", "mesosdriver", "BCS-MESOS-10001", "127.0.0.7")
        == "/bcs/services/endpoints/mesosdriver/BCS-MESOS-10001/127.0.0.7"
    )
    with pytest.raises(errors.BadRequest):
        discovery.endpoint_key("/bcs/", "mesosdriver", "a/b", "127.0.0.7")


async def test_a_registration_holds_a_leased_key_and_removes_it_on_close(kv: kv_mod.KV, prefix: str) -> None:
    reg = discovery.Registration(kv, prefix=prefix, module="mesosdriver", info=_driver())
    async with reg:
        found = await kv.get(reg.key)
        assert found is not None
        assert found.lease != 0
        assert orjson.loads(found.value)["ip"] == "127.0.0.7"
        assert orjson.loads(found.value)["port"] == 8090
    assert await kv.get(reg.key) is None


async def test_a_deleted_endpoint_is_registered_again(kv: kv_mod.KV, prefix: str) -> None:
    reg = discovery.Registration(
        kv, prefix=prefix, module="mesosdriver", info=_driver(), reregister_delay=0.05
    )
    async with reg:
        await kv.delete(reg.key)
        await services.eventually(lambda: reg.registrations >= 2, what="the re-registration")
        assert await kv.get(reg.key) is not None


async def test_the_view_follows_registrations_by_cluster(kv: kv_mod.KV, prefix: str) -> None:
    view = discovery.ServiceView(kv, prefix=prefix, module="mesosdriver")
    early = discovery.Registration(kv, prefix=prefix, module="mesosdriver", info=_driver("127.0.0.1"))
    await early.start()
    follower = tasks.create_guarded_task(name="test-view", coro=view.follow())
    try:
        await services.eventually(lambda: view.endpoints("BCS-MESOS-10001"), what="the listed endpoint")
        async with discovery.Registration(kv, prefix=prefix, module="mesosdriver", info=_driver("127.0.0.2")):
            await services.eventually(
                lambda: [e.ip for e in view.endpoints("BCS-MESOS-10001")] == ["127.0.0.1", "127.0.0.2"],
                what="the second driver in the view",
            )
            assert view.endpoints("BCS-MESOS-10001")[1].url == "http://127.0.0.2:8090"
        await services.eventually(
            lambda: [e.ip for e in view.endpoints("BCS-MESOS-10001")] == ["127.0.0.1"],
            what="the closed registration leaving the view",
        )
        await kv.put(f"{prefix}services/endpoints/mesosdriver/BCS-MESOS-10002/x", b"not json")
        await kv.put(f"{prefix}services/endpoints/storage/BCS-MESOS-10001/127.0.0.9", b"{}")
        last = await kv.revision()
        await services.eventually(lambda: view.revision >= last - 1, what="the unreadable key seen")
        assert view.clusters() == ["BCS-MESOS-10001"]
    finally:
        await tasks.stop_tasks([follower])
        await early.close()


async def test_an_expired_lease_is_replaced(kv: kv_mod.KV, prefix: str) -> None:
    reg = discovery.Registration(kv, prefix=prefix, module="mesosdriver", info=_driver(), ttl=5)
    async with reg:
        first = await kv.get(reg.key)
        assert first is not None
        await kv.revoke_lease(first.lease)  # as if the store forgot it while the driver was stalled
        await services.eventually(
            lambda: reg.registrations >= 2, timeout=15, what="a new lease after the old one vanished"
        )
        again = await kv.get(reg.key)
        assert again is not None
        assert again.lease not in (0, first.lease)
