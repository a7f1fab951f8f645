"""The client verbs as a user runs them: ``python -m bcs ...`` against a real ``bcs serve`` over HTTPS."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e import conftest as e2e

COMMAND = [sys.executable, "-m", "bcs"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[e2e.Served]:
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    served = e2e.serve(env={"BCS_SERVER__DATA_DIR": str(data_dir)})  # tls = auto: a generated CA
    try:
        yield served
    finally:
        assert served.stop() == 0, "".join(served.output)


@pytest.fixture(scope="module")
def admin_token(served: e2e.Served) -> str:
    assert served.ca_file, "".join(served.output)
    return (pathlib.Path(served.ca_file).parents[1] / "admin-token").read_text().strip()


def bcs(
    served: e2e.Served, token: str, *args: str, ca: bool = True, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCS_")}
    env.update({"BCS_SERVER": served.url, "BCS_TOKEN": token})
    if ca:
        env["BCS_CA_FILE"] = str(served.ca_file)
    done = subprocess.run([*COMMAND, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode == 0) == ok, (
        f"bcs {' '.join(args)}: rc={done.returncode}\n{done.stdout}{done.stderr}"
    )
    return done


def test_admin_creates_clusters_users_and_grants(served: e2e.Served, admin_token: str) -> None:
    created = bcs(served, admin_token, "cluster", "create", "--name", "demo", "--label", "team=a")
    assert created.stdout.split("\n")[0].split() == [
        "CLUSTER",
        "ID",
        "NAME",
        "ENGINE",
        "ENVIRONMENT",
        "STATUS",
        "CREATED",
    ]
    assert created.stdout.split("\n")[1].split()[:5] == ["BCS-K8S-40000", "demo", "k8s", "prod", "RUNNING"]
    listed = json.loads(bcs(served, admin_token, "cluster", "list", "-o", "json").stdout)
    assert [(c["clusterID"], c["labels"]) for c in listed] == [("BCS-K8S-40000", {"team": "a"})]

    alice = json.loads(bcs(served, admin_token, "user", "create", "alice", "-o", "json").stdout)["user_token"]
    granted = bcs(
        served,
        admin_token,
        "permission",
        "grant",
        "--user",
        "alice",
        "--cluster",
        "BCS-K8S-40000",
        "--role",
        "viewer",
    )
    assert granted.stdout.split("\n")[1].split() == ["alice", "cluster", "BCS-K8S-40000", "viewer"]

    # Alice's kubeconfig: the gateway as server, its CA, her own token.
    config = yaml.safe_load(bcs(served, alice, "kubeconfig", "BCS-K8S-40000").stdout)
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == f"{served.url}/clusters/BCS-K8S-40000"
    assert (
        base64.b64decode(cluster["certificate-authority-data"]).decode()
        == pathlib.Path(served.ca_file).read_text()
    )
    assert config["users"][0]["user"]["token"] == alice
    assert "BCS-K8S-40000" in bcs(served, alice, "cluster", "get", "BCS-K8S-40000").stdout

    refused = bcs(served, alice, "cluster", "create", "--name", "mine", ok=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "bcs: user alice is not an administrator (HTTP 403)"

    extra = json.loads(bcs(served, admin_token, "token", "create", "--user", "alice", "-o", "json").stdout)
    tokens = yaml.safe_load(bcs(served, alice, "token", "list", "--user", "alice", "-o", "yaml").stdout)
    assert sorted(t["token_id"] for t in tokens) == sorted([alice[:8], extra["token_id"]])
    bcs(served, admin_token, "token", "revoke", extra["token_id"])
    gone = bcs(served, extra["token"], "cluster", "list", ok=False)
    assert gone.stderr.strip() == "bcs: invalid token (HTTP 401)"

    bcs(served, admin_token, "cluster", "delete", "BCS-K8S-40000")
    missing = bcs(served, admin_token, "cluster", "get", "BCS-K8S-40000", ok=False)
    assert "HTTP 404" in missing.stderr

    output = "".join(served.output)
    for secret in (admin_token, alice, extra["token"]):
        assert secret not in output


def test_trust_of_the_gateway_is_checked(served: e2e.Served, admin_token: str) -> None:
    untrusted = bcs(served, admin_token, "credential", "list", ca=False, ok=False)
    assert "certificate verify failed" in untrusted.stderr
    insecure = bcs(served, admin_token, "credential", "list", "--insecure", ca=False)
    assert insecure.stdout.split() == [
        "SERVER",
        "KEY",
        "CLUSTER",
        "ID",
        "MODE",
        "MODULE",
        "SERVER",
        "ADDRESS",
        "UPDATED",
    ]
    no_token = bcs(served, "", "cluster", "list", ok=False)
    assert no_token.stderr.strip() == "bcs: no token: set BCS_TOKEN, or pass --token-file FILE"
