"""The data watch's pure parts: which kinds are watched, which objects stored and how they are shaped
(managedFields, masks, workload annotations), node heartbeats, Events in the storage shape, settings."""

from __future__ import annotations

import pytest

from bcs import config, errors
from bcs.plugins.k8s import settings as k8s_settings
from bcs.plugins.k8s.datawatch import convert, discovery, filters
from bcs.plugins.k8s.datawatch import settings as settings_mod

LW = ("get", "list", "watch")


def res(
    gv: str, kind: str, plural: str, *, namespaced: bool = True, verbs: tuple[str, ...] = LW
) -> discovery.ApiResource:
    group, _, version = gv.rpartition("/")
    return discovery.ApiResource(group, version, kind, plural, namespaced, verbs)


SERVED = [
    res("v1", "Pod", "pods"),
    res("v1", "Pod", "pods/status", verbs=("get", "patch")),
    res("v1", "Binding", "bindings", verbs=("create",)),
    res("v1", "ComponentStatus", "componentstatuses", namespaced=False),
    res("v1", "ConfigMap", "configmaps"),
    res("v1", "Secret", "secrets"),
    res("v1", "Namespace", "namespaces", namespaced=False),
    res("v1", "Event", "events"),
    res("apps/v1", "Deployment", "deployments"),
    res("extensions/v1beta1", "Deployment", "deployments"),
    res("extensions/v1beta1", "Ingress", "ingresses"),
    res("networking.k8s.io/v1", "Ingress", "ingresses"),
    res("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    res("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False),
    res("storage.k8s.io/v1", "CSINode", "csinodes", namespaced=False),
    res("rbac.authorization.k8s.io/v1", "Role", "roles"),
    res("coordination.k8s.io/v1", "Lease", "leases"),
    res("events.k8s.io/v1", "Event", "events"),
    res("tkex.tencent.com/v1alpha1", "GameDeployment", "gamedeployments"),
    res("tkex.tencent.com/v1alpha1", "HookRun", "hookruns"),
    res("bkbcs.tencent.com/v2", "BcsLogConfig", "bcslogconfigs"),
]


def kinds(found: list[discovery.ApiResource]) -> dict[str, str]:
    return {r.kind: r.group_version for r in found}


def test_default_rules_pick_upstream_kinds_once_each() -> None:
    chosen = kinds(filters.select_resources(SERVED, settings_mod.DataWatchSettings()))
    assert chosen == {
        "Pod": "v1",
        "Namespace": "v1",
        "Event": "v1",
        "Deployment": "apps/v1",  # extensions gives way to any other group
        "Ingress": "networking.k8s.io/v1",
        "StorageClass": "storage.k8s.io/v1",
        "GameDeployment": "tkex.tencent.com/v1alpha1",  # listed as gamedeployments.tkex.tencent.com
        "BcsLogConfig": "bkbcs.tencent.com/v2",
    }


def test_extensions_kind_is_kept_when_no_other_group_serves_it() -> None:
    only_extensions = [res("extensions/v1beta1", "Ingress", "ingresses")]
    assert kinds(filters.select_resources(only_extensions, settings_mod.DataWatchSettings())) == {
        "Ingress": "extensions/v1beta1"
    }


def test_exceptions_and_only_never_drop_namespaces() -> None:
    s = settings_mod.DataWatchSettings(exceptions=("*:*",), only=("v1:Pod",))
    assert kinds(filters.select_resources(SERVED, s)) == {"Namespace": "v1"}
    s = settings_mod.DataWatchSettings(exceptions=(), only=("v1:*", "*:Deployment"))
    assert set(kinds(filters.select_resources(SERVED, s))) == {
        "Pod",
        "ConfigMap",
        "Secret",
        "Namespace",
        "Event",
        "Deployment",
    }


def test_crd_entries_by_group_version_and_plural() -> None:
    s = settings_mod.DataWatchSettings(crds=("hookruns.tkex.tencent.com",))
    assert "HookRun" in kinds(filters.select_resources(SERVED, s))
    assert "GameDeployment" not in kinds(filters.select_resources(SERVED, s))
    s = settings_mod.DataWatchSettings(crds=("tkex.tencent.com/v1alpha1",))
    assert {"HookRun", "GameDeployment"} <= set(kinds(filters.select_resources(SERVED, s)))


def test_object_filter_skips_system_namespaces_and_names_but_keeps_system_events() -> None:
    keep = filters.ObjectFilter(settings_mod.DataWatchSettings()).keep
    assert keep("Pod", {"metadata": {"namespace": "default", "name": "a"}})
    assert not keep("Pod", {"metadata": {"namespace": "kube-system", "name": "coredns-1"}})
    assert not keep("Service", {"metadata": {"namespace": "default", "name": "kubernetes"}})
    assert keep("Namespace", {"metadata": {"name": "kube-system"}})
    assert keep("Event", {"metadata": {"namespace": "kube-system", "name": "kube-proxy-x.17a"}})
    assert not keep("Event", {"metadata": {"namespace": "kube-system", "name": "coredns-1.17a"}})
    assert keep("Event", {"metadata": {"namespace": "default", "name": "web.17a"}})


def test_shaper_strips_managed_fields_masks_and_labels_without_touching_the_cache() -> None:
    s = settings_mod.DataWatchSettings(
        masks=(
            settings_mod.MaskRule(kind="Secret", paths=("data.password", "data.missing.deeper")),
            settings_mod.MaskRule(kind="ConfigMap", namespace="prod", paths=("data",)),
        ),
        extra_labels={"cluster": "c1"},
    )
    shaper = convert.Shaper(s)
    secret = {
        "metadata": {"name": "s", "namespace": "a", "managedFields": [{"manager": "kubectl"}]},
        "data": {"password": "aGk=", "user": "dQ=="},
    }
    shaped = shaper.shape("Secret", secret)
    assert shaped["data"] == {"password": "", "user": "dQ=="}
    assert "managedFields" not in shaped["metadata"]
    assert shaped["metadata"]["labels"] == {"cluster": "c1"}
    assert secret["metadata"]["managedFields"]  # the cache's copy is untouched
    assert secret["data"]["password"] == "aGk="
    assert "labels" not in secret["metadata"]
    owned = shaper.shape("Pod", secret, workload=("Deployment", "web"))
    assert owned["metadata"]["annotations"][convert.WORKLOAD_NAME] == "web"
    assert "annotations" not in secret["metadata"]
    assert "managedFields" not in owned["metadata"]
    assert secret["metadata"]["managedFields"]
    cm = {"metadata": {"name": "c", "namespace": "prod"}, "data": {"k": "v"}}
    assert shaper.shape("ConfigMap", cm)["data"] == {}
    cm["metadata"]["namespace"] = "dev"
    assert shaper.shape("ConfigMap", cm)["data"] == {"k": "v"}
    kept = convert.Shaper(settings_mod.DataWatchSettings(strip_managed_fields=False)).shape("Secret", secret)
    assert kept["metadata"]["managedFields"] == [{"manager": "kubectl"}]


def _owned(kind: str, name: str, *, controller: bool = True) -> dict:
    return {"kind": kind, "name": name, "controller": controller, "uid": "u", "apiVersion": "apps/v1"}


def test_pod_workload_resolves_through_replicasets_and_waits_for_them() -> None:
    rs = {"metadata": {"name": "web-abc", "namespace": "a", "ownerReferences": [_owned("Deployment", "web")]}}
    pod = {
        "metadata": {
            "name": "web-abc-1",
            "namespace": "a",
            "ownerReferences": [_owned("ReplicaSet", "web-abc")],
        }
    }
    cache = {("ReplicaSet", "a", "web-abc"): rs}

    def lookup(kind: str, ns: str, name: str) -> tuple[bool, dict | None]:
        return kind == "ReplicaSet", cache.get((kind, ns, name))

    assert convert.pod_workload(pod, lookup) == ("Deployment", "web")
    cache.clear()
    assert convert.pod_workload(pod, lookup) is convert.PENDING
    assert convert.pod_workload(pod, lambda *_: (False, None)) == ("ReplicaSet", "web-abc")
    game = {
        "metadata": {"name": "g-0", "namespace": "a", "ownerReferences": [_owned("GameStatefulSet", "g")]}
    }
    assert convert.pod_workload(game, lookup) == ("GameStatefulSet", "g")
    assert convert.pod_workload({"metadata": {"name": "bare"}}, lookup) is None
    shaped = convert.Shaper(settings_mod.DataWatchSettings()).shape(
        "Pod", pod, workload=("Deployment", "web")
    )
    assert shaped["metadata"]["annotations"] == {
        convert.WORKLOAD_KIND: "Deployment",
        convert.WORKLOAD_NAME: "web",
    }


def test_heartbeat_only_node_updates_are_recognised() -> None:
    def node(rv: str, beat: str, ready: str = "True") -> dict:
        return {
            "metadata": {"name": "n", "resourceVersion": rv},
            "status": {
                "conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": beat}],
            },
        }

    assert convert.heartbeat_only(node("1", "t1"), node("2", "t2"))
    assert not convert.heartbeat_only(node("1", "t1"), node("2", "t2", ready="False"))
    assert not convert.heartbeat_only(None, node("2", "t2"))
    assert convert.fingerprint(node("1", "t1")) == convert.fingerprint(node("2", "t2"))
    assert convert.fingerprint(node("1", "t1")) != convert.fingerprint(node("1", "t1", ready="False"))


def test_events_become_storage_events() -> None:
    event = {
        "metadata": {"name": "web-1.17a", "namespace": "a", "uid": "e-1", "resourceVersion": "9"},
        "involvedObject": {"kind": "Pod", "namespace": "a", "name": "web-1"},
        "reason": "Scheduled",
        "message": "assigned a/web-1 to node-0",
        "type": "Normal",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": "2024-05-01T10:00:00Z",
        "lastTimestamp": "2024-05-01T10:00:05Z",
    }
    record = convert.event_record("BCS-K8S-1", event)
    assert record == {
        "id": "e-1",
        "env": "k8s",
        "kind": "Pod",
        "level": "Normal",
        "component": "default-scheduler",
        "type": "Scheduled",
        "describe": "assigned a/web-1 to node-0",
        "clusterId": "BCS-K8S-1",
        "eventTime": 1714557605,
        "extraInfo": {"namespace": "a", "name": "web-1", "kind": "Pod"},
        "data": event,
    }
    del event["lastTimestamp"], event["firstTimestamp"]
    event["eventTime"] = "2024-05-01T10:00:01.123456Z"
    assert convert.event_time(event) == pytest.approx(1714557601.123456)
    assert convert.event_time({"metadata": {"creationTimestamp": "2024-05-01T10:00:02Z"}}) == 1714557602


def test_settings_come_from_the_plugin_table_and_bad_values_name_the_key() -> None:
    data = {
        "plugins": {
            "k8s": {
                "operators": ["hook"],
                "data_watch": {
                    "diff_interval": 60,
                    "shards": 5,
                    "masks": [{"kind": "Secret", "paths": ["data"]}],
                    "label_selectors": {"Pod": "app=web"},
                },
            }
        }
    }
    loaded = k8s_settings.load_settings(config.BcsSettings.from_mapping(data, environ={}))
    assert loaded.data_watch.diff_interval == 60.0
    assert loaded.data_watch.shards == 5
    assert loaded.data_watch.masks == (settings_mod.MaskRule(kind="Secret", paths=("data",)),)
    assert loaded.data_watch.label_selectors == {"Pod": "app=web"}
    assert k8s_settings.K8sSettings().data_watch.diff_interval == 300.0
    for bad, key in (
        ({"shards": 0}, "plugins.k8s.data_watch.shards"),
        ({"diff_interval": -1}, "plugins.k8s.data_watch.diff_interval"),
        ({"exceptions": ["Secret"]}, "plugins.k8s.data_watch.exceptions"),
        ({"nope": 1}, "plugins.k8s.data_watch.nope"),
    ):
        settings = config.BcsSettings.from_mapping({"plugins": {"k8s": {"data_watch": bad}}}, environ={})
        with pytest.raises(errors.ConfigError, match=key.replace(".", r"\.")):
            k8s_settings.load_settings(settings)
