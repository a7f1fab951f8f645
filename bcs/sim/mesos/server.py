"""The master's HTTP face: ``/version``, ``/api/v1/scheduler``, ``/api/v1`` (operator reads),
``/master/state`` and the fault-injection routes under ``/admin``.

The scheduler endpoint applies the real handler's checks in its order (recovery 503, method 405,
Content-Type 400/415, body 400, validation 400, Accept 406, stream-id rules, then 200/202) and
answers errors as plain text. SUBSCRIBE is a chunked RecordIO stream that stays open even when the
request says ``Connection: close`` (pymesos does).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from bcs.sim.mesos import faults, frameworks, master, state, wire

__all__ = ["MASTER", "make_app"]

MASTER: web.AppKey[master.Master] = web.AppKey("mesos_master", master.Master)
_JSON = "application/json"
_PROTOBUF = "application/x-protobuf"


def _text(status: int, text: str = "", headers: dict[str, str] | None = None) -> web.Response:
    if not text:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, text=text, headers=headers)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=wire.dumps(body), status=status, content_type=_JSON)


def _accepts_json(accept: str | None) -> bool:
    if not accept:
        return True
    types = {part.split(";")[0].strip() for part in accept.split(",")}
    return bool(types & {_JSON, "*/*", "application/*"})


async def version(request: web.Request) -> web.Response:
    return _json(master.VERSION)


async def scheduler(request: web.Request) -> web.StreamResponse:
    m = request.app[MASTER]
    if m.recovering:
        return _text(503, "Master has not finished recovery")
    if request.method != "POST":
        return _text(405, headers={"Allow": "POST"})
    ctype = request.headers.get("Content-Type")
    if ctype is None:
        return _text(400, "Expecting 'Content-Type' to be present")
    if ctype != _JSON:
        text = "Expecting 'Content-Type' of application/json or application/x-protobuf"
        if ctype == _PROTOBUF:
            text += " (this simulated master speaks application/json only)"
        return _text(415, text)
    try:
        call = wire.parse_call(await request.read())
        kind = wire.validate_call(call)
    except wire.CallError as exc:
        return _text(exc.status, exc.text)
    if kind != "SUBSCRIBE":
        status, text = m.call(kind, call, request.headers.get("Mesos-Stream-Id"))
        return _text(status, text)
    if not _accepts_json(request.headers.get("Accept")):
        return _text(406, "Expecting 'Accept' to allow application/json or application/x-protobuf")
    if "Mesos-Stream-Id" in request.headers:
        return _text(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
    return await _stream(request, m, m.subscribe(call))


async def _stream(request: web.Request, m: master.Master, sub: frameworks.Subscription) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"Content-Type": _JSON, "Mesos-Stream-Id": sub.stream_id})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        drop = await sub.pump(resp.write)
    except ConnectionError:  # a write found the client gone
        m.disconnected(sub)
        return resp
    except asyncio.CancelledError:  # the client went away: aiohttp cancels the handler
        m.disconnected(sub)
        raise
    if drop:  # a simulated crash: the connection just breaks
        resp.force_close()
        if request.transport is not None:
            request.transport.abort()
        return resp
    with contextlib.suppress(ConnectionError):
        await resp.write_eof()
    return resp


async def operator(request: web.Request) -> web.Response:
    m = request.app[MASTER]
    if m.recovering:
        return _text(503, "Master has not finished recovery")
    if request.headers.get("Content-Type") != _JSON:
        return _text(415, "Expecting 'Content-Type' of application/json or application/x-protobuf")
    try:
        call = wire.parse_call(await request.read())
    except wire.CallError as exc:
        return _text(exc.status, exc.text)
    kind = call.get("type") if isinstance(call, dict) else None
    if not isinstance(kind, str):
        return _text(400, "Failed to validate master::Call: Expecting 'type' to be present")
    body = state.operator_call(m, kind)
    if body is None:
        return _text(501, f"Operator call {kind} is not simulated")
    return _json(body)


async def master_state(request: web.Request) -> web.Response:
    m = request.app[MASTER]
    if m.recovering:
        return _text(503, "Master has not finished recovery")
    return _json(state.master_state(m))


# -- fault injection -------------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


def _agent_view(agent: Any) -> dict[str, Any]:
    return {
        "id": agent.id,
        "hostname": agent.hostname,
        "ip": agent.ip,
        "state": agent.state,
        "resources": agent.total.to_state(),
        "used_resources": agent.used.to_state(),
        "tasks": sorted(t for _, t in agent.tasks),
    }


async def admin_agents(request: web.Request) -> web.Response:
    return _json({"agents": [_agent_view(a) for a in request.app[MASTER].agents.values()]})


async def admin_agent(request: web.Request) -> web.Response:
    action = {"lose": faults.lose_agent, "recover": faults.recover_agent, "remove": faults.remove_agent}
    fn = action.get(request.match_info["action"])
    if fn is None:
        return _json({"error": f"unknown action {request.match_info['action']!r}"}, 404)
    try:
        agent = fn(request.app[MASTER], request.match_info["agent"])
    except KeyError as exc:
        return _json({"error": exc.args[0]}, 404)
    except ValueError as exc:
        return _json({"error": str(exc)}, 409)
    return _json(_agent_view(agent))


async def admin_task(request: web.Request) -> web.Response:
    body = await _body(request)
    m, task_id, action = request.app[MASTER], request.match_info["task"], request.match_info["action"]
    fw_id = body.get("framework_id")
    try:
        if action == "fail":
            task = faults.fail_task(m, task_id, message=body.get("message"), framework_id=fw_id)
        elif action == "finish":
            task = faults.finish_task(m, task_id, framework_id=fw_id)
        elif action in ("healthy", "unhealthy"):
            task = faults.set_health(m, task_id, action == "healthy", framework_id=fw_id)
        else:
            return _json({"error": f"unknown action {action!r}"}, 404)
    except KeyError as exc:
        return _json({"error": exc.args[0]}, 404)
    except ValueError as exc:
        return _json({"error": str(exc)}, 409)
    return _json({"task_id": task.task_id, "framework_id": task.framework_id, "state": task.state})


async def admin_restart(request: web.Request) -> web.Response:
    body = await _body(request)
    downtime = float(body.get("downtime", 0.5))
    faults.restart_master(request.app[MASTER], downtime)
    return _json({"restarting": True, "downtime": downtime})


async def admin_message(request: web.Request) -> web.Response:
    body = await _body(request)
    m = request.app[MASTER]
    fw = m.frameworks.get(request.match_info["framework"])
    if fw is None:
        return _json({"error": "framework not found"}, 404)
    m.executor_message(
        fw, str(body.get("agent_id", "")), str(body.get("executor_id", "")), body.get("data", "")
    )
    return _json({"sent": fw.connected})


def make_app(m: master.Master) -> web.Application:
    app = web.Application()
    app[MASTER] = m
    r = app.router
    r.add_get("/version", version)
    r.add_route("*", "/api/v1/scheduler", scheduler)
    r.add_post("/api/v1", operator)
    for path in ("/master/state", "/state", "/master/state.json", "/state.json"):
        r.add_get(path, master_state)
    r.add_get("/admin/agents", admin_agents)
    r.add_post("/admin/agents/{agent}/{action}", admin_agent)
    r.add_post("/admin/tasks/{task}/{action}", admin_task)
    r.add_post("/admin/master/restart", admin_restart)
    r.add_post("/admin/frameworks/{framework}/message", admin_message)
    return app
