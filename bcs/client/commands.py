"""The client verbs: ``bcs cluster|credential|user|token|permission|kubeconfig ...``.

Each verb is one gateway call (cluster manager or user manager API) whose answer is printed by
:mod:`.output`. Every handler returns the exit code: 0 done, 1 the gateway refused or did not answer
(one line on stderr says why), 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

from bcs.client import http, output

__all__ = ["register_commands"]

CM = "/bcsapi/v4/clustermanager/v1"
UM = "/bcsapi/v4/usermanager"
Handler = Callable[[http.Gateway, argparse.Namespace], int]

CLUSTER_COLUMNS: list[output.Column] = [
    ("CLUSTER ID", lambda c: c.get("clusterID")),
    ("NAME", lambda c: c.get("clusterName")),
    ("ENGINE", lambda c: c.get("engineType")),
    ("ENVIRONMENT", lambda c: c.get("environment")),
    ("STATUS", lambda c: c.get("status")),
    ("CREATED", lambda c: c.get("createTime")),
]
CREDENTIAL_COLUMNS: list[output.Column] = [
    ("SERVER KEY", lambda c: c.get("serverKey")),
    ("CLUSTER ID", lambda c: c.get("clusterID")),
    ("MODE", lambda c: c.get("connectMode")),
    ("MODULE", lambda c: c.get("clientModule")),
    ("SERVER ADDRESS", lambda c: c.get("serverAddress")),
    ("UPDATED", lambda c: c.get("updateTime")),
]
TOKEN_COLUMNS: list[output.Column] = [
    ("TOKEN ID", lambda t: t.get("token_id")),
    ("USER", lambda t: t.get("username")),
    ("STATUS", lambda t: {0: "expired", 1: "active"}.get(t.get("status", 1))),
    ("EXPIRES", lambda t: t.get("expired_at") or "never"),
    ("CREATED", lambda t: t.get("created_at")),
]
NEW_TOKEN_COLUMNS: list[output.Column] = [
    ("TOKEN ID", lambda t: t.get("token_id")),
    ("EXPIRES", lambda t: t.get("expired_at") or "never"),
    ("TOKEN", lambda t: t.get("token")),
]
PERMISSION_COLUMNS: list[output.Column] = [
    ("USER", lambda p: p.get("user_name")),
    ("RESOURCE TYPE", lambda p: p.get("resource_type")),
    ("RESOURCE", lambda p: p.get("resource")),
    ("ROLE", lambda p: p.get("role")),
]
USER_COLUMNS: list[output.Column] = [
    ("NAME", lambda u: u.get("name")),
    ("TYPE", lambda u: {1: "admin", 2: "saas", 3: "plain"}.get(u.get("user_type"), u.get("user_type"))),
    ("EXPIRES", lambda u: u.get("expires_at") or "never"),
    ("TOKEN", lambda u: u.get("user_token")),
]


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _print(args: argparse.Namespace, data: Any, columns: list[output.Column]) -> int:
    output.render(data, fmt=args.output, columns=columns)
    return 0


def _labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise http.ClientError(f"--label expects KEY=VALUE, got {pair!r}")
        labels[key] = value
    return labels


# -- clusters and credentials ---------------------------------------------------------------------


def cluster_list(gw: http.Gateway, args: argparse.Namespace) -> int:
    query = {"engineType": args.engine, "environment": args.environment, "projectID": args.project}
    if args.all:
        query["all"] = "true"
    return _print(args, gw.call("GET", f"{CM}/cluster", query=query), CLUSTER_COLUMNS)


def cluster_get(gw: http.Gateway, args: argparse.Namespace) -> int:
    return _print(args, gw.call("GET", f"{CM}/cluster/{_q(args.cluster)}"), CLUSTER_COLUMNS)


def cluster_create(gw: http.Gateway, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "clusterName": args.name,
        "engineType": args.engine,
        "environment": args.environment,
    }
    for key, value in (("clusterID", args.id), ("provider", args.provider), ("projectID", args.project)):
        if value:
            body[key] = value
    if args.label:
        body["labels"] = _labels(args.label)
    return _print(args, gw.call("POST", f"{CM}/cluster", body=body), CLUSTER_COLUMNS)


def cluster_delete(gw: http.Gateway, args: argparse.Namespace) -> int:
    gw.call("DELETE", f"{CM}/cluster/{_q(args.cluster)}")
    print(f"cluster {args.cluster} deleted")
    return 0


def credential_list(gw: http.Gateway, args: argparse.Namespace) -> int:
    query = {"clusterID": args.cluster, "connectMode": args.connect_mode}
    return _print(args, gw.call("GET", f"{CM}/clustercredential", query=query), CREDENTIAL_COLUMNS)


def kubeconfig(gw: http.Gateway, args: argparse.Namespace) -> int:
    text = gw.raw(
        "GET",
        f"{CM}/clusters/{_q(args.cluster)}/kubeconfig",
        query={"format": "yaml"},
        accept="application/yaml",
    )
    sys.stdout.write(text.decode())
    return 0


# -- users, tokens, permissions -------------------------------------------------------------------


def user_create(gw: http.Gateway, args: argparse.Namespace) -> int:
    body = {} if args.expiration is None else {"expiration": args.expiration}
    data = gw.call("POST", f"{UM}/v1/users/{args.kind}/{_q(args.name)}", body=body)
    return _print(args, data, USER_COLUMNS)


def token_create(gw: http.Gateway, args: argparse.Namespace) -> int:
    data = gw.call("POST", f"{UM}/v1/tokens", body={"username": args.user, "expiration": args.expiration})
    return _print(args, data, NEW_TOKEN_COLUMNS)


def token_list(gw: http.Gateway, args: argparse.Namespace) -> int:
    return _print(args, gw.call("GET", f"{UM}/v1/users/{_q(args.user)}/tokens"), TOKEN_COLUMNS)


def token_revoke(gw: http.Gateway, args: argparse.Namespace) -> int:
    gw.call("DELETE", f"{UM}/v1/tokens/{_q(args.token_id)}")
    print(f"token {args.token_id} revoked")
    return 0


def _permission_body(args: argparse.Namespace, role: str | None) -> dict[str, Any]:
    entry = {"user_name": args.user, "resource_type": "cluster", "resource": args.cluster}
    if role:
        entry["role"] = role
    return {"apiVersion": "v1", "kind": "permissions", "spec": {"permissions": [entry]}}


def permission_grant(gw: http.Gateway, args: argparse.Namespace) -> int:
    data = gw.call("POST", f"{UM}/v1/permissions", body=_permission_body(args, args.role))
    return _print(args, data, PERMISSION_COLUMNS)


def permission_revoke(gw: http.Gateway, args: argparse.Namespace) -> int:
    gw.call("DELETE", f"{UM}/v1/permissions", body=_permission_body(args, None))
    print(f"user {args.user} has no role on cluster {args.cluster} any more")
    return 0


def permission_list(gw: http.Gateway, args: argparse.Namespace) -> int:
    query = {"user_name": args.user, "resource_type": "cluster", "resource": args.cluster}
    return _print(args, gw.call("GET", f"{UM}/v1/permissions", query=query), PERMISSION_COLUMNS)


# -- the parser ---------------------------------------------------------------------------------------


def _run(handler: Handler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(http.from_args(args), args)
        except http.ClientError as e:
            status = f" (HTTP {e.status})" if e.status else ""
            print(f"bcs: {e.message}{status}", file=sys.stderr)
            return 1

    return run


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("gateway")
    group.add_argument(
        "--server", metavar="URL", help=f"the bcs gateway (default: $BCS_SERVER, else {http.DEFAULT_SERVER})"
    )
    group.add_argument(
        "--token-file", metavar="FILE", help="read the bearer token from FILE (default: $BCS_TOKEN)"
    )
    group.add_argument(
        "--ca-file", metavar="FILE", help="trust this CA for the gateway (default: $BCS_CA_FILE)"
    )
    group.add_argument("--insecure", action="store_true", help="do not verify the gateway's certificate")
    common.add_argument("-o", "--output", choices=output.FORMATS, default="table", help="output format")
    return common


def _verb(group: Any, name: str, handler: Handler, help_text: str, common: argparse.ArgumentParser) -> Any:
    parser = group.add_parser(name, help=help_text, description=help_text, parents=[common])
    parser.set_defaults(handler=_run(handler))
    return parser


def register_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the client verbs to the ``bcs`` command line (each handler returns the exit code)."""
    common = _common()

    cluster = subparsers.add_parser("cluster", help="list, show, create and delete clusters")
    verbs = cluster.add_subparsers(dest="cluster_command", metavar="VERB", required=True)
    p = _verb(verbs, "list", cluster_list, "list clusters", common)
    p.add_argument("--engine", choices=("k8s", "mesos"))
    p.add_argument("--environment", choices=("stag", "debug", "prod"))
    p.add_argument("--project", help="only clusters of this projectID")
    p.add_argument("--all", action="store_true", help="include clusters in status DELETED")
    _verb(verbs, "get", cluster_get, "show one cluster", common).add_argument("cluster", metavar="CLUSTER_ID")
    p = _verb(verbs, "create", cluster_create, "register a cluster (the id is allocated unless --id)", common)
    p.add_argument("--name", required=True)
    p.add_argument("--engine", choices=("k8s", "mesos"), default="k8s")
    p.add_argument("--environment", choices=("stag", "debug", "prod"), default="prod")
    p.add_argument("--id", help="a chosen id, e.g. BCS-K8S-40001")
    p.add_argument("--provider")
    p.add_argument("--project", help="projectID")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    _verb(verbs, "delete", cluster_delete, "delete a cluster (its id is never reused)", common).add_argument(
        "cluster", metavar="CLUSTER_ID"
    )

    credential = subparsers.add_parser("credential", help="list cluster credentials")
    verbs = credential.add_subparsers(dest="credential_command", metavar="VERB", required=True)
    p = _verb(verbs, "list", credential_list, "list cluster credentials (tokens are not shown)", common)
    p.add_argument("--cluster", help="only this cluster's")
    p.add_argument("--connect-mode", choices=("direct", "tunnel"))

    user = subparsers.add_parser("user", help="create users")
    verbs = user.add_subparsers(dest="user_command", metavar="VERB", required=True)
    p = _verb(verbs, "create", user_create, "create a user; its first token is printed once", common)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--kind", choices=("plain", "saas", "admin"), default="plain")
    p.add_argument("--expiration", type=int, metavar="SECONDS", help="token lifetime (-1 = never)")

    token = subparsers.add_parser("token", help="create, list and revoke tokens")
    verbs = token.add_subparsers(dest="token_command", metavar="VERB", required=True)
    p = _verb(verbs, "create", token_create, "create a token; it is printed once", common)
    p.add_argument("--user", required=True)
    p.add_argument(
        "--expiration", type=int, default=-1, metavar="SECONDS", help="lifetime (default -1 = never)"
    )
    _verb(verbs, "list", token_list, "list a user's tokens (ids only)", common).add_argument(
        "--user", required=True
    )
    _verb(verbs, "revoke", token_revoke, "revoke a token now", common).add_argument(
        "token_id", metavar="TOKEN_ID"
    )

    permission = subparsers.add_parser("permission", help="grant, revoke and list roles on clusters")
    verbs = permission.add_subparsers(dest="permission_command", metavar="VERB", required=True)
    p = _verb(verbs, "grant", permission_grant, "give a user a role on a cluster", common)
    p.add_argument("--user", required=True)
    p.add_argument("--cluster", required=True)
    p.add_argument("--role", choices=("viewer", "manager"), required=True)
    p = _verb(verbs, "revoke", permission_revoke, "take a user's role on a cluster away", common)
    p.add_argument("--user", required=True)
    p.add_argument("--cluster", required=True)
    p = _verb(verbs, "list", permission_list, "list roles", common)
    p.add_argument("--user")
    p.add_argument("--cluster")

    p = subparsers.add_parser(
        "kubeconfig",
        help="print a kubeconfig reaching a cluster through the gateway",
        description="Print a kubeconfig for CLUSTER_ID whose server is the gateway and whose token is yours: "
        "bcs kubeconfig BCS-K8S-40001 > kc.yaml; kubectl --kubeconfig kc.yaml get pods",
        parents=[common],
    )
    p.add_argument("cluster", metavar="CLUSTER_ID")
    p.set_defaults(handler=_run(kubeconfig))
