"""events.k8s.io/v1 Events: one storage with core/v1 Events, two shapes, watches that see both."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from bcs.sim.kube import cluster
from tests.sim.kube.conftest import Http, Kubectl, until

CORE = "/api/v1/namespaces/default/events"
NEW = "/apis/events.k8s.io/v1/namespaces/default/events"
NOW = "2026-01-02T03:04:05.123456Z"


class Watch:
    """A raw HTTP watch, collecting its events in the background."""

    def __init__(self, http: Http, path: str) -> None:
        self.http, self.path = http, path
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._resp: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> Watch:
        sim = self.http.sim
        self._resp = await self.http.session.get(
            f"{sim.url}{self.path}?watch=true&resourceVersion={sim.cluster.store.rv}&timeoutSeconds=30",
            headers={"Authorization": f"Bearer {sim.token}"},
            ssl=sim.client_ssl_context(),
        )
        assert self._resp.status == 200
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self._resp is not None
        async for line in self._resp.content:
            self.events.append(json.loads(line))

    def find(self, name: str, kind: str = "ADDED") -> dict[str, Any] | None:
        for ev in self.events:
            if ev["type"] == kind and ev["object"]["metadata"]["name"] == name:
                return ev["object"]
        return None

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        assert self._resp is not None
        self._task.cancel()
        self._resp.close()


def _new_event(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name},
        "eventTime": NOW,
        "reportingController": "example.com/tester",
        "reportingInstance": "tester-1",
        "action": "Testing",
        "reason": "Checked",
        "note": "all good",
        "type": "Normal",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "p1", "apiVersion": "v1"},
        **extra,
    }


async def test_one_storage_two_shapes(http: Http, kube_sim: cluster.KubeSim) -> None:
    async with Watch(http, CORE) as core_watch, Watch(http, NEW) as new_watch:
        code, made = await http("POST", NEW + "?fieldValidation=Strict", _new_event("via-new"))
        assert code == 201, made
        assert (made["apiVersion"], made["note"], made["regarding"]["name"]) == (
            "events.k8s.io/v1",
            "all good",
            "p1",
        )
        legacy = {
            "metadata": {"name": "via-core"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p2"},
            "reason": "Old",
            "message": "written the old way",
            "source": {"component": "kubelet", "host": "node-0"},
            "firstTimestamp": "2026-01-02T03:04:05Z",
            "lastTimestamp": "2026-01-02T03:04:05Z",
            "count": 3,
            "type": "Warning",
        }
        code, _ = await http("POST", CORE, legacy)
        assert code == 201
        await until(
            lambda: all(w.find(n) for w in (core_watch, new_watch) for n in ("via-new", "via-core")),
            what="both watches to see both events",
        )
    seen_core = core_watch.find("via-new")
    assert seen_core is not None
    assert (seen_core["apiVersion"], seen_core["message"], seen_core["involvedObject"]["name"]) == (
        "v1",
        "all good",
        "p1",
    )
    assert seen_core["reportingComponent"] == "example.com/tester"
    seen_new = new_watch.find("via-core")
    assert seen_new is not None
    assert seen_new["kind"] == "Event"
    assert seen_new["apiVersion"] == "events.k8s.io/v1"
    assert seen_new["note"] == "written the old way"
    assert seen_new["deprecatedSource"] == {"component": "kubelet", "host": "node-0"}
    assert (seen_new["deprecatedCount"], seen_new["deprecatedFirstTimestamp"]) == (3, "2026-01-02T03:04:05Z")
    assert "message" not in seen_new

    # Lists and gets, and field selectors in each group's own labels.
    _, listed = await http("GET", NEW + "?fieldSelector=regarding.name%3Dp2")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["via-core"]
    _, listed = await http("GET", CORE + "?fieldSelector=involvedObject.name%3Dp1")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["via-new"]
    code, body = await http("GET", NEW + "?fieldSelector=involvedObject.name%3Dp1")
    assert (code, body["message"]) == (400, "field label not supported: involvedObject.name")
    _, listed = await http("GET", NEW + "?fieldSelector=reportingController%3Dexample.com%2Ftester")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["via-new"]

    # Updates through the new group keep the old fields; the stored object stays core-shaped.
    code, patched = await http(
        "PATCH",
        NEW + "/via-new",
        {"series": {"count": 2, "lastObservedTime": NOW}},
        ctype="application/merge-patch+json",
    )
    assert code == 200, patched
    _, core = await http("GET", CORE + "/via-new")
    assert core["series"] == {"count": 2, "lastObservedTime": NOW}
    assert core["message"] == "all good"
    code, body = await http(
        "PATCH", NEW + "/via-new", {"note": "changed"}, ctype="application/merge-patch+json"
    )
    assert (code, body["details"]["causes"][0]["field"]) == (422, "message")
    code, _ = await http("DELETE", NEW + "/via-core")
    assert code == 200
    code, _ = await http("GET", CORE + "/via-core")
    assert code == 404


async def test_new_group_validation(http: Http) -> None:
    bad = _new_event("bad", type="Info", deprecatedCount=2)
    del bad["eventTime"]
    del bad["action"]
    code, body = await http("POST", NEW, bad)
    assert code == 422
    assert {c["field"] for c in body["details"]["causes"]} == {"eventTime", "type", "count"}
    bad = _new_event("bad2", reportingController="")
    del bad["action"]
    code, body = await http("POST", NEW, bad)
    assert code == 422
    assert {c["field"] for c in body["details"]["causes"]} == {"reportingController", "action"}
    code, body = await http("POST", NEW + "?fieldValidation=Strict", _new_event("bad3", message="old name"))
    assert code == 400
    assert body["message"].endswith('strict decoding error: unknown field "message"')
    _, listed = await http("GET", NEW)
    assert not [i for i in listed["items"] if i["metadata"]["name"].startswith("bad")]


async def test_kubectl_reads_both_groups(kube_sim: cluster.KubeSim, kubectl: Kubectl, http: Http) -> None:
    code, _ = await http("POST", NEW, _new_event("shown"))
    assert code == 201
    for resource in ("events", "events.events.k8s.io"):
        res = await kubectl("get", resource, "--field-selector=reason=Checked")
        assert res.out.split("\n")[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        assert "pod/p1" in res.out
        assert "all good" in res.out
    res = await kubectl("get", "events.events.k8s.io", "shown", "-o", "jsonpath={.note}/{.regarding.name}")
    assert res.out == "all good/p1"
