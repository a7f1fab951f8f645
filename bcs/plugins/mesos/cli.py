"""``bcs mesos apply|get|scale|delete``: the driver API through the gateway.

``configure_parser(parser)`` adds the verbs to an ``argparse`` parser; ``run(args)`` executes one and
returns the exit code. The gateway is ``--server`` (env ``BCS_SERVER``) with ``--token`` (env
``BCS_TOKEN``); the cluster is ``--cluster`` (sent as ``BCS-ClusterID``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import sys
from typing import Any

import aiohttp
import yaml

__all__ = ["configure_parser", "execute", "run"]

PREFIX = "/bcsapi/v4/scheduler/mesos"
KINDS = {
    "applications": "applications",
    "deployments": "deployments",
    "application": "applications",
    "deployment": "deployments",
    "app": "applications",
    "deploy": "deployments",
}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=os.environ.get("BCS_SERVER", "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("BCS_TOKEN", ""))
    parser.add_argument("--cluster", required=True, help="cluster id, e.g. BCS-MESOS-10001")
    parser.add_argument("-n", "--namespace", default="defaultGroup")
    verbs = parser.add_subparsers(dest="mesos_verb", required=True)
    apply = verbs.add_parser("apply", help="create or update an application/deployment from JSON or YAML")
    apply.add_argument("-f", "--file", required=True)
    get = verbs.add_parser("get", help="list applications, deployments, or the taskgroups of an application")
    get.add_argument("kind", choices=["applications", "deployments", "taskgroups"])
    get.add_argument("name", nargs="?", default="")
    scale = verbs.add_parser("scale", help="set the instances of an application or deployment")
    scale.add_argument("kind", choices=sorted(KINDS))
    scale.add_argument("name")
    scale.add_argument("instances", type=int)
    delete = verbs.add_parser("delete", help="delete an application or deployment")
    delete.add_argument("kind", choices=sorted(KINDS))
    delete.add_argument("name")


def _request(args: argparse.Namespace) -> tuple[str, str, Any]:
    ns = f"{PREFIX}/namespaces/{args.namespace}"
    verb = args.mesos_verb
    if verb == "apply":
        text = pathlib.Path(args.file).read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
        kind = "deployments" if doc.get("kind") == "deployment" else "applications"
        namespace = (doc.get("metadata") or {}).get("namespace") or args.namespace
        return "POST", f"{PREFIX}/namespaces/{namespace}/{kind}", doc
    if verb == "get":
        if args.kind == "taskgroups":
            if not args.name:
                raise SystemExit("bcs mesos get taskgroups needs the application name")
            return "GET", f"{ns}/applications/{args.name}/taskgroups", None
        return "GET", f"{ns}/{args.kind}" + (f"/{args.name}" if args.name else ""), None
    if verb == "scale":
        return "PUT", f"{ns}/{KINDS[args.kind]}/{args.name}/scale/{args.instances}", None
    return "DELETE", f"{ns}/{KINDS[args.kind]}/{args.name}", None


async def execute(args: argparse.Namespace, session: aiohttp.ClientSession) -> tuple[int, Any]:
    """Send the request; an ``apply`` whose object exists is retried as an update (PUT)."""
    method, path, body = _request(args)
    headers = {"BCS-ClusterID": args.cluster}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    url = args.server.rstrip("/") + path
    async with session.request(method, url, json=body, headers=headers) as r:
        status, payload = r.status, await r.json(content_type=None)
    if args.mesos_verb == "apply" and status == 409:
        async with session.request("PUT", url, json=body, headers=headers) as r:
            status, payload = r.status, await r.json(content_type=None)
    return status, payload


def run(args: argparse.Namespace) -> int:
    async def main() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            return await execute(args, session)

    status, payload = asyncio.run(main())
    out = sys.stdout if status < 300 else sys.stderr
    print(json.dumps(payload.get("data") if status < 300 else payload, indent=2), file=out)
    return 0 if status < 300 else 1
