"""``pods/log`` and ``pods/exec``: synthetic container logs and a tiny built-in command set.

Exec speaks the WebSocket channel protocols ``v5.channel.k8s.io``/``v4.channel.k8s.io`` (binary
frames, first byte = channel: 0 stdin, 1 stdout, 2 stderr, 3 status, 255 close). Commands are
interpreted inside the simulator; nothing ever runs on the host.
"""

from __future__ import annotations

import asyncio
import datetime
import shlex
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from bcs.sim.kube import resources, status

if TYPE_CHECKING:
    from bcs.sim.kube import cluster as cluster_mod

__all__ = ["PROTOCOLS", "handle", "log_lines", "run_command"]

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STARTUP_LINES = 3


def _container(pod: dict[str, Any], name: str) -> str:
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    pod_name = pod["metadata"]["name"]
    if not name:
        default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        if default in names:
            return default
        if len(names) == 1:
            return names[0]
        raise status.bad_request(
            f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(names)}]"
        )
    if name not in names:
        raise status.bad_request(f"container {name} is not valid for pod {pod_name}")
    return name


def _container_status(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == name:
            return cs
    return {}


def _parse_ts(value: str) -> datetime.datetime:
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def log_lines(
    pod: dict[str, Any], container: str, started: str, upto: datetime.datetime, interval: float
) -> list[tuple[datetime.datetime, str]]:
    """The synthetic log of a container: a few startup lines, then one line per ``interval``."""
    start = _parse_ts(started)
    image = next((c.get("image", "") for c in pod["spec"]["containers"] if c.get("name") == container), "")
    ns, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
    lines = [
        (start, f"starting {container} ({image}) in pod {ns}/{name}"),
        (start, f"{container}: configuration loaded"),
        (start, f"{container}: ready to serve"),
    ]
    ticks = int((upto - start).total_seconds() / interval) if interval > 0 else 0
    for i in range(max(0, ticks - 1000), ticks):
        when = start + datetime.timedelta(seconds=(i + 1) * interval)
        lines.append((when, f"{container}: heartbeat {i + 1}"))
    return lines


def _render(when: datetime.datetime, text: str, stamps: bool) -> bytes:
    prefix = when.strftime("%Y-%m-%dT%H:%M:%S.%f000Z ") if stamps else ""
    return (prefix + text + "\n").encode()


async def _logs(
    request: web.Request, cl: cluster_mod.Cluster, rt: resources.ResourceType, ns: str, name: str
) -> web.StreamResponse:
    q = request.query
    pod = cl.api.get(rt, ns, name)
    container = _container(pod, q.get("container", ""))
    cs = _container_status(pod, container)
    running = (cs.get("state") or {}).get("running")
    previous = q.get("previous", "").lower() in ("true", "1")
    if previous:
        term = (cs.get("lastState") or {}).get("terminated")
        if not term:
            raise status.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        started, until = term.get("startedAt"), _parse_ts(term.get("finishedAt"))
    else:
        if not running:
            reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason", "ContainerCreating")
            raise status.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        started, until = running.get("startedAt"), datetime.datetime.now(datetime.UTC)
    lines = log_lines(pod, container, started, until, cl.log_interval)
    if q.get("sinceSeconds"):
        horizon = until - datetime.timedelta(seconds=int(q["sinceSeconds"]))
        lines = [ln for ln in lines if ln[0] >= horizon]
    if q.get("tailLines"):
        tail = int(q["tailLines"])
        lines = lines[-tail:] if tail > 0 else []
    stamps = q.get("timestamps", "").lower() in ("true", "1")
    limit = int(q["limitBytes"]) if q.get("limitBytes") else None
    body = b"".join(_render(w, t, stamps) for w, t in lines)
    follow = q.get("follow", "").lower() in ("true", "1") and not previous
    if not follow:
        return web.Response(body=body[:limit] if limit else body, content_type="text/plain")
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    sent = 0
    try:
        if body:
            await resp.write(body[:limit] if limit else body)
            sent = len(body)
        count = len(log_lines(pod, container, started, until, cl.log_interval))
        uid = pod["metadata"]["uid"]
        while (limit is None or sent < limit) and not cl.closing:
            await asyncio.sleep(min(cl.log_interval, 0.5))
            if cl.closing:
                break
            cur = cl.api.find(rt, ns, name)
            cur_cs = _container_status(cur, container) if cur else {}
            if (
                not cur
                or cur["metadata"]["uid"] != uid
                or ((cur_cs.get("state") or {}).get("running") or {}).get("startedAt") != started
            ):
                break
            now_lines = log_lines(
                cur, container, started, datetime.datetime.now(datetime.UTC), cl.log_interval
            )
            new = now_lines[count:] if len(now_lines) > count else []
            count = max(count, len(now_lines))
            chunk = b"".join(_render(w, t, stamps) for w, t in new)
            if chunk:
                await resp.write(chunk)
                sent += len(chunk)
    except (ConnectionResetError, ConnectionError):
        pass
    return resp


def _env(pod: dict[str, Any], container: str) -> list[str]:
    spec = pod.get("spec") or {}
    out = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f"HOSTNAME={spec.get('hostname') or pod['metadata']['name']}",
    ]
    for c in spec.get("containers") or []:
        if c.get("name") == container:
            out += [f"{e.get('name')}={e.get('value', '')}" for e in c.get("env") or []]
    out += ["KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443", "HOME=/root"]
    return out


async def run_command(
    argv: list[str], *, pod: dict[str, Any], container: str, stdin: bytes
) -> tuple[bytes, bytes, int]:
    """Interpret ``argv`` with the built-in command set; returns (stdout, stderr, exit code)."""
    out, err = bytearray(), bytearray()
    if not argv:
        return b"", b"no command given\n", 126
    cmd, args = argv[0].rsplit("/", 1)[-1], argv[1:]
    hostname = (pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"]
    if cmd in ("sh", "bash", "ash") and args[:1] == ["-c"] and len(args) > 1:
        code = 0
        for part in args[1].replace("&&", ";").split(";"):
            words = shlex.split(part)
            if not words:
                continue
            if words[0] == "exit":
                return bytes(out), bytes(err), int(words[1]) if len(words) > 1 else code
            to_err = words[-1] in (">&2", "1>&2")
            if to_err:
                words = words[:-1]
            o, e, code = await run_command(words, pod=pod, container=container, stdin=stdin)
            (err if to_err else out).extend(o)
            err.extend(e)
        return bytes(out), bytes(err), code
    if cmd == "echo":
        newline = args[:1] != ["-n"]
        text = " ".join(args[1:] if not newline else args)
        return (text + ("\n" if newline else "")).encode(), b"", 0
    if cmd == "hostname":
        return f"{hostname}\n".encode(), b"", 0
    if cmd in ("env", "printenv"):
        env = _env(pod, container)
        if cmd == "printenv" and args:
            env = [e.split("=", 1)[1] for e in env if e.split("=", 1)[0] in args]
            return ("".join(v + "\n" for v in env)).encode(), b"", 0 if env else 1
        return ("\n".join(env) + "\n").encode(), b"", 0
    if cmd == "cat":
        if not args:
            return stdin, b"", 0
        for path in args:
            if path == "/etc/hostname":
                out.extend(f"{hostname}\n".encode())
            else:
                err.extend(f"cat: {path}: No such file or directory\n".encode())
        return bytes(out), bytes(err), 1 if err else 0
    if cmd == "true":
        return b"", b"", 0
    if cmd == "false":
        return b"", b"", 1
    if cmd == "sleep":
        try:
            await asyncio.sleep(min(float(args[0]) if args else 0.0, 3600.0))
        except ValueError:
            return b"", f"sleep: invalid time interval '{args[0]}'\n".encode(), 1
        return b"", b"", 0
    if cmd == "pwd":
        return b"/\n", b"", 0
    if cmd == "whoami":
        return b"root\n", b"", 0
    return b"", f'exec: "{argv[0]}": executable file not found in $PATH\n'.encode(), 127


def _exit_status(code: int) -> bytes:
    if code == 0:
        return orjson.dumps({"metadata": {}, "status": "Success"})
    return orjson.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": "command terminated with non-zero exit code: "
            f"error executing command [{code}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    )


async def _exec(
    request: web.Request, cl: cluster_mod.Cluster, rt: resources.ResourceType, ns: str, name: str
) -> web.StreamResponse:
    q = request.query
    pod = cl.api.get(rt, ns, name)
    container = _container(pod, q.get("container", ""))
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise status.bad_request("Upgrade request required")
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise status.bad_request(f'unable to upgrade connection: container not found ("{container}")')
    argv = q.getall("command", [])
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, heartbeat=None)
    await ws.prepare(request)
    v5 = ws.ws_protocol == PROTOCOLS[0]
    stdin = bytearray()
    try:
        if q.get("stdin", "").lower() in ("true", "1"):
            async for msg in ws:
                if msg.type != WSMsgType.BINARY or not msg.data:
                    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
                        break
                    continue
                chan, payload = msg.data[0], msg.data[1:]
                if chan == 0:
                    stdin.extend(payload)
                elif chan == 255 and v5 and payload[:1] == b"\x00":
                    break
        out, err, code = await run_command(list(argv), pod=pod, container=container, stdin=bytes(stdin))
        if out:
            await ws.send_bytes(b"\x01" + out)
        if err:
            await ws.send_bytes(b"\x02" + err)
        await ws.send_bytes(b"\x03" + _exit_status(code))
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        await ws.close()
    return ws


async def handle(
    request: web.Request, cl: cluster_mod.Cluster, rt: resources.ResourceType, ns: str, name: str, sub: str
) -> web.StreamResponse:
    if sub == "log" and request.method == "GET":
        return await _logs(request, cl, rt, ns, name)
    if sub == "exec" and request.method in ("GET", "POST"):
        return await _exec(request, cl, rt, ns, name)
    raise status.method_not_allowed(request.method.lower())
