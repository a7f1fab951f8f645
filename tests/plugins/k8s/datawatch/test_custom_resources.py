"""Custom resources: the data watch discovers CRDs in the cluster (the tkex GameDeployment and
GameStatefulSet among the default white list; other CRDs stay out), stores their objects as dynamic
resources of their kind (upstream's namespace_resources path), and GameDeployment/GameStatefulSet
changes, which are in the default publication set, reach RabbitMQ: create, update and delete."""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any

from bcs import config
from bcs.core import bus as bus_port
from bcs.plugins.k8s.datawatch import sink
from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators import cli as operators_cli
from bcs.storage.store import conditions as c
from tests.plugins.k8s.datawatch import helpers
from tests.plugins.k8s.datawatch.conftest import Consumer
from tests.plugins.k8s.datawatch.processes import SimServer
from tests.services import eventually

GROUP, VERSION = "tkex.tencent.com", "v1alpha1"
WIDGETS = {  # a CRD outside the white list: never watched
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def _crds(tmp_path: pathlib.Path, *names: str) -> pathlib.Path:
    """A directory with some of the operators' CRD files (to install them one at a time)."""
    directory = tmp_path / "crds" / "-".join(names)
    directory.mkdir(parents=True)
    for name in names:
        shutil.copy(operators_cli.CRD_DIR / name, directory / name)
    return directory


def game(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "game:1"}]},
            },
        },
    }


async def test_custom_resources_are_stored_and_published(
    tmp_path: pathlib.Path, rabbit: tuple[dict[str, Any], Consumer]
) -> None:
    bus_section, _ = rabbit
    # Discovery often, so that a CRD installed while the watch runs is picked up.
    settings = helpers.fast_settings(discovery_interval=0.2)
    async with (
        helpers.sqlite_service(tmp_path, config.BusSettings(**bus_section)) as service,
        SimServer(nodes=1, controllers=False) as sim,
        await client.connect(server=sim.url) as kube,
    ):
        everything = Consumer(
            await service.bus.subscribe(bus_port.Binding(exchange=bus_section["exchange"], routing_key="#"))
        )
        try:
            await operators_cli.apply_crds(kube, directory=_crds(tmp_path, "gamedeployment.yaml"))
            await kube.request(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=WIDGETS
            )
            helpers.make_namespace(sim, "g")
            registry, api = sim.cluster.registry, sim.cluster.api
            gds = registry.get(GROUP, VERSION, "gamedeployments")
            widgets = registry.get("example.com", "v1", "widgets")
            assert gds is not None
            assert widgets is not None
            api.create(gds, "g", game("gd1", 2))
            api.create(widgets, "g", {"metadata": {"name": "w1"}, "spec": {"size": 1}})

            async with helpers.watching(kube, sink.ServiceSink(service), settings) as watch:

                async def stored(kind: str, name: str) -> dict[str, Any] | None:
                    where = c.And(c.Eq("clusterId", helpers.CID), c.Eq("resourceName", name))
                    docs = await service.find_resources(kind, c.Query(where))
                    return docs[0] if docs else None

                def messages(kind: str, name: str) -> list[tuple[str, dict[str, Any]]]:
                    return [
                        (m.headers["event"], json.loads(m.body))
                        for m in everything.received
                        if m.headers["resourceType"] == kind and m.headers["resourceName"] == name
                    ]

                # Created before the watch started: listed, stored under its kind, published.
                await eventually(lambda: stored("GameDeployment", "gd1"), what="gd1 stored")
                doc = await stored("GameDeployment", "gd1")
                assert doc is not None
                assert (doc["namespace"], doc["data"]["spec"]["replicas"]) == ("g", 2)
                assert doc["data"]["kind"] == "GameDeployment"
                assert "managedFields" not in doc["data"]["metadata"]
                await eventually(lambda: messages("GameDeployment", "gd1"), what="gd1's message")
                ((event, body),) = messages("GameDeployment", "gd1")
                assert event == "update"
                assert body["spec"]["replicas"] == 2
                (first,) = [m for m in everything.received if m.headers["resourceName"] == "gd1"]
                assert (first.headers["clusterId"], first.headers["namespace"]) == (helpers.CID, "g")

                # Updated: storage and a second message carry the new state.
                api.mutate(gds, "g", "gd1", lambda o: o["spec"].update(replicas=5))
                await eventually(lambda: len(messages("GameDeployment", "gd1")) == 2, what="the update")
                event, body = messages("GameDeployment", "gd1")[1]
                assert (event, body["spec"]["replicas"]) == ("update", 5)
                doc = await stored("GameDeployment", "gd1")
                assert doc is not None
                assert doc["data"]["spec"]["replicas"] == 5

                # A CRD installed while the watch runs: discovered, then its objects are watched too.
                assert "GameStatefulSet" not in watch.watchers
                await operators_cli.apply_crds(kube, directory=_crds(tmp_path, "gamestatefulset.yaml"))
                await eventually(lambda: "GameStatefulSet" in watch.watchers, what="GameStatefulSet watched")
                gsts = registry.get(GROUP, VERSION, "gamestatefulsets")
                assert gsts is not None
                api.create(gsts, "g", game("gs1", 1))
                await eventually(lambda: messages("GameStatefulSet", "gs1"), what="gs1's message")
                assert await stored("GameStatefulSet", "gs1") is not None

                # Deleted: gone from storage, and one delete message with its last state.
                api.delete(gds, "g", "gd1", {})
                await eventually(lambda: len(messages("GameDeployment", "gd1")) == 3, what="the delete")
                event, body = messages("GameDeployment", "gd1")[2]
                assert event == "delete"
                assert body["spec"]["replicas"] == 5
                assert await stored("GameDeployment", "gd1") is None
                await eventually(lambda: helpers.outbox_empty(service), what="publication")

                # The CRD outside the white list was discovered but never watched nor stored.
                assert "Widget" not in watch.watchers
                assert {"GameDeployment", "GameStatefulSet"} <= set(watch.watchers)
                assert await service.store.count("Widget", None, include_deleted=True) == 0
                games = [m for m in everything.received if m.headers["resourceType"].startswith("Game")]
                assert len(games) == 4  # gd1 x3, gs1 x1: nothing twice
                assert len({m.message_id for m in games}) == 4
                assert not [m for m in everything.received if m.headers["resourceType"] == "Widget"]
        finally:
            await everything.close()
