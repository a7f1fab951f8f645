"""Change publication through the whole app: a process whose broker is unreachable accepts writes,
and the next process on the same store publishes them on RabbitMQ, exactly once per change."""

from __future__ import annotations

import json
from typing import Any

from bcs import config
from bcs.core import bus as bus_port
from tests.storage.test_outbox import Consumer

from .conftest import PREFIX, app_client
from .test_dynamic import ok, pod

NS = f"{PREFIX}/k8s/dynamic/namespace_resources/clusters/BCS-K8S-1/namespaces/default"


async def test_a_restarted_app_publishes_what_the_first_could_not(
    aiohttp_client: Any, make_settings: Any, rabbit_sections: dict[str, Any]
) -> None:
    bus_section = rabbit_sections["bus"]
    nowhere = {"bus": {**bus_section, "url": "amqp://guest:guest@127.0.0.1:1/", "timeout": 1.0}}
    first = await app_client(aiohttp_client, make_settings(**nowhere))
    for version in ("1", "2"):
        await ok(await first.put(f"{NS}/Pod/p1", json={"data": pod("p1", v=version)}))
    await ok(await first.put(f"{NS}/Pod/p2", json={"data": pod("p2")}))
    await ok(await first.delete(f"{NS}/Pod/p2"))
    await ok(await first.put(f"{NS}/Service/s1", json={"data": {}}))  # not a published type
    await first.close()  # a graceful stop: the changes wait in the store

    listener = bus_port.open_bus(config.BusSettings(backend="rabbitmq", url=bus_section["url"]))
    await listener.start()
    consumer = await Consumer.bind(listener, bus_section["exchange"], "Pod")
    try:
        await app_client(aiohttp_client, make_settings(**rabbit_sections))
        messages = await consumer.wait_for(4)
    finally:
        await consumer.close()
        await listener.close()
    assert len(consumer.unique()) == 4
    seen = [(m.headers["resourceName"], m.headers["event"], json.loads(m.body)) for m in messages]
    assert seen == [
        ("p1", "update", pod("p1", v="1")),
        ("p1", "update", pod("p1", v="2")),
        ("p2", "update", pod("p2")),
        ("p2", "delete", pod("p2")),
    ]
