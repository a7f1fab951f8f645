"""Events and alarms on both stores."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from bcs import keys

from .conftest import PREFIX, app_client
from .test_dynamic import ok

EVENTS = f"{PREFIX}/events"


def event(
    name: str, rv: str, *, cluster: str = "BCS-K8S-1", when: int, level: str = "Normal"
) -> dict[str, Any]:
    return {
        "id": f"{name}.{rv}",
        "env": "k8s",
        "kind": "Pod",
        "level": level,
        "component": "kubelet",
        "type": "Pulled",
        "describe": f"pulled image for {name}",
        "clusterId": cluster,
        "eventTime": when,
        "extraInfo": {"namespace": "default", "name": name, "kind": "Pod"},
        "data": {"metadata": {"name": name, "resourceVersion": rv}, "reason": "Pulled"},
    }


async def test_put_and_query_events_with_total(client: Any) -> None:
    await ok(await client.put(EVENTS, json=event("e1", "1", when=1700000000)))
    await ok(await client.put(EVENTS, json=event("e1", "1", when=1700000000)))  # the same event again
    await ok(await client.put(EVENTS, json=event("e1", "2", when=1700000100, level="Warning")))
    await ok(await client.put(EVENTS, json=event("e2", "1", when=1700000200)))
    await ok(await client.put(EVENTS, json=event("e3", "1", cluster="BCS-K8S-2", when=1700000300)))

    body = await ok(await client.get(EVENTS, params={"clusterId": "BCS-K8S-1"}))
    assert body["total"] == 3
    first = body["data"][0]
    assert first["eventTime"] == "2023-11-14T22:13:20.000Z"
    assert first["extraInfo"] == {"namespace": "default", "name": "e1", "kind": "Pod"}
    assert set(first) == set(event("e1", "1", when=0))  # the event shape, nothing internal

    def ids(b: dict[str, Any]) -> list[str]:
        return [d["id"] for d in b["data"]]

    assert ids(await ok(await client.get(EVENTS, params={"level": "Warning"}))) == ["e1.2"]
    assert ids(await ok(await client.get(EVENTS, params={"extraInfo.name": "e2,e3"}))) == ["e2.1", "e3.1"]
    params = {"timeBegin": "1700000100", "timeEnd": "1700000200"}
    assert ids(await ok(await client.get(EVENTS, params=params))) == ["e1.2", "e2.1"]
    body = await ok(await client.get(EVENTS, params={"offset": "1", "length": "2"}))
    assert (ids(body), body["total"]) == (["e1.2", "e2.1"], 4)
    contain = base64.b64encode(json.dumps({"describe": "for e2"}).encode()).decode()
    body = await ok(await client.get(EVENTS, params={"extra_contain": contain}))
    assert (ids(body), body["total"]) == (["e2.1"], 1)
    # POST: the same query as a JSON body
    body = await ok(await client.post(EVENTS, json={"clusterId": ["BCS-K8S-2"], "field": "id,clusterId"}))
    assert body["data"] == [{"id": "e3.1", "clusterId": "BCS-K8S-2"}]


async def test_bad_events_are_400_and_write_nothing(client: Any) -> None:
    for body in (
        {"eventTime": 1},
        {"clusterId": "c", "eventTime": "yesterday"},
        {"clusterId": "c", "data": [1]},
    ):
        resp = await client.put(EVENTS, json=body)
        assert resp.status == 400, body
    resp = await client.get(EVENTS, params={"colour": "red"})
    assert resp.status == 400
    assert "colour" in (await resp.json())["message"]
    assert (await ok(await client.get(EVENTS)))["total"] == 0


async def test_alarms(client: Any) -> None:
    alarms = f"{PREFIX}/alarms"
    for i, module in enumerate(("scheduler", "storage", "scheduler")):
        alarm = {
            "clusterId": "BCS-K8S-1",
            "namespace": "default",
            "message": f"m{i}",
            "source": "bcs",
            "module": module,
            "type": "warning",
            "receivedTime": 1700000000 + i,
            "data": {"i": i},
        }
        await ok(await client.post(alarms, json=alarm))
    body = await ok(await client.get(alarms, params={"module": "scheduler"}))
    assert [a["message"] for a in body["data"]] == ["m0", "m2"]
    assert body["total"] == 2
    assert body["data"][0]["receivedTime"] == "2023-11-14T22:13:20.000Z"
    body = await ok(await client.get(alarms, params={"timeBegin": "1700000001", "limit": "1"}))
    assert ([a["message"] for a in body["data"]], body["total"]) == (["m1"], 2)
    resp = await client.post(alarms, json={"message": "no cluster"})
    assert resp.status == 400


async def test_event_retention_by_age_and_count(aiohttp_client: Any, make_settings: Any) -> None:
    settings = make_settings(storage={"event_max_days": 1, "event_max_count": 2})
    client = await app_client(aiohttp_client, settings)
    now = 1800000000
    for i in range(4):
        await ok(await client.put(EVENTS, json=event(f"a{i}", "1", when=now - 100 + i)))
    await ok(await client.put(EVENTS, json=event("b-old", "1", cluster="BCS-K8S-2", when=now - 3 * 86400)))
    await ok(await client.put(EVENTS, json=event("b-new", "1", cluster="BCS-K8S-2", when=now)))

    service = client.app[keys.STORAGE]
    removed = await service.events.enforce_retention(now=datetime.datetime.fromtimestamp(now, datetime.UTC))
    assert removed == 3
    body = await ok(await client.get(EVENTS))
    assert [e["id"] for e in body["data"]] == ["a2.1", "a3.1", "b-new.1"]
