"""The kube agent: reading a kubeconfig or the in-cluster service account, computing apiserver
addresses as upstream does (§1.6), and reporting the credential through the gateway."""

from __future__ import annotations

import argparse
import base64
import pathlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yaml
from aiohttp import test_utils

from bcs import app as app_mod
from bcs import errors, keys
from bcs.plugins.k8s import agent, agent_cli
from bcs.sim.kube import cluster
from bcs.testing import ADMIN_TOKEN
from tests import services
from tests.gateway import upstream
from tests.gateway.accounts import UM, bearer, call, make_cluster

CID = "BCS-K8S-40001"


@pytest.fixture
async def sim() -> AsyncIterator[cluster.KubeSim]:
    async with cluster.KubeSim(nodes=1, tls=True) as served:
        yield served


@pytest.fixture
async def gateway(aiohttp_client, tmp_path: pathlib.Path) -> test_utils.TestClient:
    return await aiohttp_client(app_mod.create_app(upstream.gateway_settings(tmp_path / "data")))


def test_kubeconfig_gives_server_ca_and_token(tmp_path: pathlib.Path) -> None:
    (tmp_path / "ca.crt").write_text("PEM")
    (tmp_path / "token").write_text("file-token\n")
    doc = {
        "current-context": "a",
        "contexts": [
            {"name": "a", "context": {"cluster": "ca", "user": "ua"}},
            {"name": "b", "context": {"cluster": "cb", "user": "ub"}},
        ],
        "clusters": [
            {
                "name": "ca",
                "cluster": {
                    "server": "https://a:6443",
                    "certificate-authority-data": base64.b64encode(b"A").decode(),
                },
            },
            {"name": "cb", "cluster": {"server": "https://b:6443", "certificate-authority": "ca.crt"}},
        ],
        "users": [{"name": "ua", "user": {"token": "ta"}}, {"name": "ub", "user": {"tokenFile": "token"}}],
    }
    path = tmp_path / "kc.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert agent.from_kubeconfig(path) == agent.ApiserverAccess("https://a:6443", "A", "ta")
    assert agent.from_kubeconfig(path, context="b") == agent.ApiserverAccess(
        "https://b:6443", "PEM", "file-token"
    )
    with pytest.raises(errors.ConfigError, match="no context named 'c'"):
        agent.from_kubeconfig(path, context="c")
    assert "ta" not in repr(agent.from_kubeconfig(path))


def test_in_cluster_reads_the_service_account(tmp_path: pathlib.Path) -> None:
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_text("CA PEM")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert agent.in_cluster(env, root=tmp_path) == agent.ApiserverAccess(
        "https://10.96.0.1:443", "CA PEM", "sa-token"
    )
    with pytest.raises(errors.ConfigError, match="KUBERNETES_SERVICE_HOST"):
        agent.in_cluster({}, root=tmp_path)


async def _set_endpoints(sim: cluster.KubeSim, port: int, *, ip: str = "127.0.0.1") -> None:
    headers = {"Authorization": f"Bearer {sim.token}"}
    body = {
        "subsets": [
            {"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
        ]
    }
    url = f"{sim.url}/api/v1/namespaces/default/endpoints/kubernetes"
    async with (
        aiohttp.ClientSession() as session,
        session.patch(
            url,
            json=body,
            headers={**headers, "Content-Type": "application/merge-patch+json"},
            ssl=sim.client_ssl_context(),
        ) as r,
    ):
        assert r.status == 200, await r.text()


async def test_addresses_are_the_endpoints_that_answer_else_the_agents_own(sim: cluster.KubeSim) -> None:
    access = agent.from_kubeconfig(sim.kubeconfig)
    connector = aiohttp.TCPConnector(ssl=access.ssl_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        await _set_endpoints(sim, services.free_port())  # nothing listens there
        assert await agent.apiserver_addresses(session, access) == [sim.url]
        await _set_endpoints(sim, sim.port)
        assert await agent.apiserver_addresses(session, access) == [f"https://127.0.0.1:{sim.port}"]


async def test_a_report_makes_the_cluster_routable_at_once(
    gateway: test_utils.TestClient, sim: cluster.KubeSim
) -> None:
    kube_agent = agent.Agent(
        gateway=str(gateway.make_url("")),
        cluster_id=CID,
        user_token=ADMIN_TOKEN,
        access=agent.from_kubeconfig(sim.kubeconfig),
    )
    assert await kube_agent.run_once() == [sim.url]
    stored = await gateway.app[keys.CLUSTERS].get_credential(CID)
    assert (stored.serverAddress, stored.userToken, stored.clientModule) == (sim.url, sim.token, "kubeagent")
    assert stored.caCertData == sim.ca_pem.decode()
    async with gateway.get(f"/clusters/{CID}/api/v1/nodes", headers=bearer(ADMIN_TOKEN)) as r:
        assert r.status == 200
        assert [n["metadata"]["name"] for n in (await r.json())["items"]] == ["node-0"]


async def test_a_register_token_reports_its_own_cluster_only(
    gateway: test_utils.TestClient, sim: cluster.KubeSim
) -> None:
    cid = await make_cluster(gateway)
    other = await make_cluster(gateway)
    token = (await call(gateway, "POST", f"{UM}/v1/clusters/{cid}/register_tokens"))["data"]["token"]
    access = agent.from_kubeconfig(sim.kubeconfig)
    base = str(gateway.make_url(""))
    await agent.Agent(gateway=base, cluster_id=cid, user_token=token, access=access).run_once()
    with pytest.raises(errors.BcsError, match="403"):
        await agent.Agent(gateway=base, cluster_id=other, user_token=token, access=access).run_once()
    with pytest.raises(errors.BcsError, match="401"):
        await agent.Agent(gateway=base, cluster_id=cid, user_token="wrong", access=access).run_once()


def test_the_command_line_needs_a_token_and_builds_the_agent(
    tmp_path: pathlib.Path, sim: cluster.KubeSim
) -> None:
    parser = argparse.ArgumentParser()
    agent_cli.configure_parser(parser)
    args = parser.parse_args(
        [
            "--gateway",
            "https://gw",
            "--cluster-id",
            CID,
            "--kubeconfig",
            sim.kubeconfig,
            "--period",
            "5",
            "--external-proxy-addresses",
            "https://127.0.0.1:6443, https://127.0.0.2:6443",
            "--insecure-skip-tls-verify",
        ]
    )
    with pytest.raises(errors.ConfigError, match="USER_TOKEN"):
        agent_cli.build(args, environ={})
    built = agent_cli.build(args, environ={"USER_TOKEN": "t"})
    assert built.external_addresses == ("https://127.0.0.1:6443", "https://127.0.0.2:6443")
    assert (built.period, built.gateway_ssl, built.access.server) == (5.0, False, sim.url)
