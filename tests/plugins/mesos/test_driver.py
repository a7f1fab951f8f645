"""End to end through the gateway: the driver routes of a Mesos cluster, its data in storage."""

from __future__ import annotations

import copy
from typing import Any

from bcs.testing import ADMIN_TOKEN
from tests.plugins.mesos import through
from tests.plugins.mesos.conftest import CLUSTER, app_doc
from tests.plugins.mesos.through import HEADERS, MESOS
from tests.services import eventually

_serve = through.serve
_get = through.get


async def test_invalid_application_is_400_naming_the_field(aiohttp_client, tmp_path, mesos) -> None:
    client = await _serve(aiohttp_client, tmp_path, mesos)
    doc = app_doc()
    del doc["spec"]["template"]["spec"]["containers"][0]["image"]
    async with client.post(f"{MESOS}/applications", json=doc, headers=HEADERS) as r:
        body = await r.json()
        assert r.status == 400
        assert "spec.template.spec.containers[0].image" in body["message"]
        assert body["result"] is False
    bad = app_doc()
    bad["constraint"] = {"intersectionItem": [{"unionData": [{"name": "hostname", "operate": "UNIQ"}]}]}
    async with client.post(f"{MESOS}/applications", json=bad, headers=HEADERS) as r:
        assert r.status == 400
        assert "constraint.intersectionItem[0].unionData[0].operate" in (await r.json())["message"]
    assert await _get(client, f"{MESOS}/applications") == []
    assert mesos.tasks() == []
    async with client.get(f"{MESOS}/applications", headers={"Authorization": HEADERS["Authorization"]}) as r:
        assert r.status == 400  # no BCS-ClusterID header


async def test_application_scale_and_storage(aiohttp_client, tmp_path, mesos) -> None:
    client = await _serve(aiohttp_client, tmp_path, mesos)
    async with client.post(f"{MESOS}/applications", json=app_doc(unique=True), headers=HEADERS) as r:
        assert r.status == 200, await r.text()

    async def running(n: int) -> list[dict[str, Any]] | None:
        tgs = await _get(client, f"{MESOS}/applications/web/taskgroups")
        up = [t for t in tgs if t["status"] == "Running"]
        return up if len(up) == n and len(tgs) == n else None

    tgs = await eventually(lambda: running(3), what="3 running taskgroups")
    assert len({t["hostIP"] for t in tgs}) == 3
    assert all(t["containerStatuses"][0]["containerPort"][0]["hostPort"] >= 31000 for t in tgs)
    async with client.put(f"{MESOS}/applications/web/scale/6", headers=HEADERS) as r:
        assert r.status == 200
    await eventually(lambda: running(6), what="6 running")
    async with client.put(f"{MESOS}/applications/web/scale/2", headers=HEADERS) as r:
        assert r.status == 200
    tgs = await eventually(lambda: running(2), what="2 running")
    assert sorted(t["instance"] for t in tgs) == [0, 1]

    storage = f"/bcsapi/v4/storage/mesos/dynamic/all_resources/clusters/{CLUSTER}"

    async def stored() -> bool:
        docs = await _get(client, f"{storage}/taskgroup")
        apps = await _get(client, f"{storage}/application")
        return (
            len(docs) == 2
            and {d["data"]["status"] for d in docs} == {"Running"}
            and [a["data"]["status"] for a in apps] == ["Running"]
            and apps[0]["data"]["runningInstance"] == 2
        )

    await eventually(stored, what="storage shows 2 taskgroups and a running application")


async def test_deployment_rolls_to_a_new_image(aiohttp_client, tmp_path, mesos) -> None:
    client = await _serve(aiohttp_client, tmp_path, mesos)
    dep = app_doc("api", instances=3, kind="deployment")
    dep["spec"]["strategy"] = {"type": "RollingUpdate", "rollingupdate": {"maxUnavilable": 1, "maxSurge": 1}}
    async with client.post(f"{MESOS}/deployments", json=dep, headers=HEADERS) as r:
        assert r.status == 200, await r.text()

    async def images(app: str) -> set[str] | None:
        tgs = await _get(client, f"{MESOS}/applications/{app}/taskgroups")
        if len(tgs) == 3 and all(t["status"] == "Running" for t in tgs):
            return {c["image"] for t in tgs for c in t["containerStatuses"]}
        return None

    assert await eventually(lambda: images("api-v1"), what="v1 running") == {"nginx:1"}
    new = copy.deepcopy(dep)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    async with client.put(f"{MESOS}/deployments", json=new, headers=HEADERS) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["data"]["isInRolling"] is True

    async def done() -> bool:
        d = await _get(client, f"{MESOS}/deployments/api")
        return d["status"] == "Running" and d["application"]["name"] == "api-v2" and not d["isInRolling"]

    await eventually(done, timeout=20, what="rollout finished")
    assert await images("api-v2") == {"nginx:2"}
    live = [t for t in mesos.tasks() if t.state == "TASK_RUNNING"]
    assert len(live) == 3


async def test_cli_apply_get_scale_delete(aiohttp_client, tmp_path, mesos) -> None:
    import argparse
    import json

    import aiohttp

    from bcs.plugins.mesos import cli

    client = await _serve(aiohttp_client, tmp_path, mesos)
    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    server = str(client.make_url("")).rstrip("/")
    common = ["--server", server, "--token", ADMIN_TOKEN, "--cluster", CLUSTER]
    spec = tmp_path / "app.json"
    spec.write_text(json.dumps(app_doc(instances=2)))
    async with aiohttp.ClientSession() as session:

        async def do(*argv: str) -> tuple[int, Any]:
            return await cli.execute(parser.parse_args([*common, *argv]), session)

        assert (await do("apply", "-f", str(spec)))[0] == 200
        assert (await do("apply", "-f", str(spec)))[0] == 200  # exists: updated instead

        async def tgs(n: int) -> bool:
            code, body = await do("get", "taskgroups", "web")
            return code == 200 and sum(t["status"] == "Running" for t in body["data"]) == n

        await eventually(lambda: tgs(2), what="2 running via the CLI")
        assert (await do("scale", "application", "web", "1"))[0] == 200
        await eventually(lambda: tgs(1), what="scaled to 1")
        code, body = await do("get", "applications")
        assert code == 200
        assert [a["metadata"]["name"] for a in body["data"]] == ["web"]
        assert (await do("delete", "application", "web"))[0] == 200
        await eventually(lambda: not [t for t in mesos.tasks() if t.state == "TASK_RUNNING"], what="deleted")
        code, body = await do("get", "applications", "nope")
        assert code == 404
