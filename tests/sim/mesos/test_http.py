"""The scheduler endpoint's HTTP contract: status codes and texts, the stream, RecordIO, heartbeats."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from bcs.sim.mesos import sim
from tests.sim.mesos.conftest import JSON, MakeScheduler, RecordIO, Scheduler, b64, framework_info, until


async def _post(session: aiohttp.ClientSession, url: str, body: bytes, **headers: str) -> tuple[int, str]:
    skip = () if "Content-Type" in headers else ("Content-Type",)
    async with session.post(
        f"{url}/api/v1/scheduler", data=body, headers=headers, skip_auto_headers=skip
    ) as r:
        return r.status, await r.text()


async def test_version_is_plain_dotted_integers(
    mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{mesos_sim.url}/version") as r:
        body = await r.json()
    assert r.status == 200
    assert tuple(int(n) for n in body["version"].split(".")) == (1, 11, 0)
    assert {"build_date", "build_time", "build_user", "git_sha", "git_tag"} <= set(body)


@pytest.mark.parametrize(
    ("body", "headers", "status", "text"),
    [
        (b"{}", {}, 400, "Expecting 'Content-Type' to be present"),
        (b"{}", {"Content-Type": "application/json; charset=utf-8"}, 415, "Expecting 'Content-Type' of"),
        (b"{}", {"Content-Type": "application/x-protobuf"}, 415, "application/json only"),
        (b"{nope", {"Content-Type": "application/json"}, 400, "Failed to parse body into JSON"),
        (b"{}", {"Content-Type": "application/json"}, 400, "Expecting 'type' to be present"),
        (b'{"type": 3}', {"Content-Type": "application/json"}, 400, "Failed to convert JSON into Call"),
        (
            b'{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u"}}}',
            {"Content-Type": "application/json"},
            400,
            "Missing required fields: subscribe.framework_info.name",
        ),
        (b'{"type":"REVIVE"}', {"Content-Type": "application/json"}, 400, "Expecting 'framework_id'"),
        (
            b'{"type":"ACCEPT","framework_id":{"value":"f"}}',
            {"Content-Type": "application/json"},
            400,
            "Expecting 'accept' to be present",
        ),
        (
            b'{"type":"ACKNOWLEDGE","framework_id":{"value":"f"},"acknowledge":{"agent_id":{"value":"a"},'
            b'"task_id":{"value":"t"},"uuid":"' + b64(b"12345678").encode() + b'"}}',
            {"Content-Type": "application/json"},
            400,
            "Not a valid UUID",
        ),
        (
            b'{"type":"SUBSCRIBE","framework_id":{"value":"a"},"subscribe":{"framework_info":'
            b'{"user":"u","name":"n","id":{"value":"b"}}}}',
            {"Content-Type": "application/json"},
            400,
            "'framework_id' differs from 'subscribe.framework_info.id'",
        ),
        (
            b'{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}',
            {"Content-Type": "application/json", "Mesos-Stream-Id": "x"},
            400,
            "Subscribe calls should not include the 'Mesos-Stream-Id' header",
        ),
        (
            b'{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}',
            {"Content-Type": "application/json", "Accept": "application/x-protobuf"},
            406,
            "Expecting 'Accept'",
        ),
        (
            b'{"type":"REVIVE","framework_id":{"value":"nope"}}',
            {"Content-Type": "application/json"},
            400,
            "Framework cannot be found",
        ),
    ],
)
async def test_call_rejections_match_the_real_handler(
    mesos_sim: sim.MesosSim,
    session: aiohttp.ClientSession,
    body: bytes,
    headers: dict[str, str],
    status: int,
    text: str,
) -> None:
    got_status, got_text = await _post(session, mesos_sim.url, body, **headers)
    assert (got_status, text in got_text) == (status, True), got_text


async def test_get_is_405_with_allow(mesos_sim: sim.MesosSim, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{mesos_sim.url}/api/v1/scheduler") as r:
        assert r.status == 405
        assert r.headers["Allow"] == "POST"


async def test_subscribe_streams_subscribed_then_heartbeat(session: aiohttp.ClientSession) -> None:
    async with sim.MesosSim(agents=1, seed=3, heartbeat_interval=0.1) as s:
        sched = Scheduler(session, s.url)
        try:
            resp = await sched.subscribe(framework_info("hb"))
            assert resp.status == 200
            assert resp.headers["Transfer-Encoding"] == "chunked"
            assert resp.headers["Content-Type"] == "application/json"
            assert "Content-Length" not in resp.headers
            first, second = sched.events[:2]
            assert first["type"] == "SUBSCRIBED"
            assert first["subscribed"]["heartbeat_interval_seconds"] == 0.1
            assert first["subscribed"]["master_info"]["version"] == "1.11.0"
            assert sched.framework_id == f"{s.master.master_id}-0000"
            assert second == {"type": "HEARTBEAT"}
            # ...and more heartbeats follow on the configured interval.
            await until(lambda: len(sched.of("HEARTBEAT")) >= 3, what="periodic heartbeats")
        finally:
            await sched.close()


async def test_stream_ids_are_checked_on_calls(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    sched = await make_scheduler()
    assert await sched.call("REVIVE") == (202, "")
    code, text = await sched.call("REVIVE", stream_id="")
    # aiohttp sends an empty header; a missing one is tested below with a raw body
    assert code == 400
    assert "didn't match the stream ID" in text
    code, text = await sched.call("REVIVE", stream_id="0b7c3c36-0000-4000-8000-000000000000")
    assert code == 400
    assert f"currently associated with framework ID {sched.framework_id}" in text
    body = orjson.dumps({"type": "REVIVE", "framework_id": {"value": sched.framework_id}})
    code, text = await _post(sched.session, mesos_sim.url, body, **{"Content-Type": "application/json"})
    assert (code, text) == (400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
    code, _ = await sched.call("UNKNOWN")
    assert code == 501


async def test_disconnected_framework_gets_403(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim
) -> None:
    sched = await make_scheduler(failover_timeout=30.0)
    fw = mesos_sim.master.frameworks[sched.framework_id]
    await sched.close()
    await until(lambda: not fw.connected, what="the master to notice the disconnect")
    assert await sched.call("REVIVE") == (403, "Framework is not subscribed")


async def test_recordio_split_across_chunks(session: aiohttp.ClientSession) -> None:
    async with sim.MesosSim(agents=4, seed=5, max_chunk=7, allocation_interval=0.05) as s:
        sched = Scheduler(session, s.url)
        try:
            resp = await sched.subscribe(framework_info("chunks"))
            assert resp.status == 200
            offers = await sched.offers()
            assert len(offers) == 4
            records = len(sched.events)
            assert sched.http_chunks > 3 * records  # every record really arrived in pieces
        finally:
            await sched.close()


def test_recordio_decoder_handles_any_split() -> None:
    events = [{"type": "HEARTBEAT"}, {"type": "ERROR", "error": {"message": "x" * 30}}]
    raw = b"".join(b"%d\n%b" % (len(orjson.dumps(e)), orjson.dumps(e)) for e in events)
    for size in (1, 2, 3, 5, 13, len(raw)):
        dec = RecordIO()
        got = []
        for i in range(0, len(raw), size):
            got += dec.feed(raw[i : i + size])
        assert got == events
        assert dec.pending == b""


async def test_invalid_framework_info_gets_error_then_eof(
    mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    sched = Scheduler(session, mesos_sim.url)
    try:
        resp = await sched.subscribe(framework_info("bad", roles=["a"]))
        assert resp.status == 200
        assert sched.events[0] == {
            "type": "ERROR",
            "error": {
                "message": "'FrameworkInfo.roles' must not be set when the framework is not "
                "MULTI_ROLE capable"
            },
        }
        await until(lambda: sched.ended == "eof", what="the stream to close")
        assert mesos_sim.master.frameworks == {}
    finally:
        await sched.close()


async def test_operator_api_and_state(
    make_scheduler: MakeScheduler, mesos_sim: sim.MesosSim, session: aiohttp.ClientSession
) -> None:
    sched = await make_scheduler()
    async with session.post(f"{mesos_sim.url}/api/v1", json={"type": "GET_STATE"}, headers=JSON) as r:
        body = await r.json()
    assert body["type"] == "GET_STATE"
    agents = body["get_state"]["get_agents"]["agents"]
    assert len(agents) == 3
    assert agents[0]["agent_info"]["id"]["value"].startswith(mesos_sim.master.master_id)
    frameworks = body["get_state"]["get_frameworks"]["frameworks"]
    assert [f["framework_info"]["id"]["value"] for f in frameworks] == [sched.framework_id]
    for path in ("/master/state", "/state"):
        async with session.get(mesos_sim.url + path) as r:
            state = await r.json()
        assert state["activated_slaves"] == 3.0
        assert state["frameworks"][0]["id"] == sched.framework_id
        assert state["slaves"][0]["resources"]["ports"] == "[31000-32000]"
