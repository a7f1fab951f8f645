"""Scheduler records in the shapes upstream's mesos data watch stores (bk-bcs §4.2):
taskgroups as ``BcsPodStatus``, applications as ``BcsReplicaControllerStatus``, deployments as
the deployment status the typed query API reads (``data.application.name``, ``isInRolling``...)."""

from __future__ import annotations

import datetime
from typing import Any

from bcs.plugins.mesos import records

__all__ = ["app_doc", "deployment_doc", "rfc3339", "taskgroup_doc"]


def rfc3339(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def taskgroup_doc(tg: records.TaskGroup, *, cluster_id: str) -> dict[str, Any]:
    containers = [
        {
            "name": info.get("name", ""),
            "containerID": task_id,
            "restartCount": tg.restarts,
            "status": info.get("state", ""),
            "lastStatus": "",
            "image": info.get("image", ""),
            "message": info.get("message", ""),
            "startTime": rfc3339(tg.created),
            "lastUpdateTime": rfc3339(tg.updated),
            "containerPort": [{"name": k, "hostPort": v} for k, v in tg.ports.items()],
            "healCheckStatus": (
                [{"type": h["type"], "result": h["healthy"], "message": h["message"]}]
                if (h := info.get("health"))
                else []
            ),
        }
        for task_id, info in tg.tasks.items()
    ]
    return {
        "metadata": {
            "name": tg.id,
            "namespace": tg.namespace,
            "clusterId": cluster_id,
            "labels": {"io.tencent.bcs.app.appid": tg.app},
        },
        "kind": "APP",
        "rcname": tg.app,
        "instance": tg.instance,
        "status": tg.status,
        "lastStatus": tg.last_status,
        "hostIP": tg.host_ip,
        "hostName": tg.hostname,
        "podIP": tg.pod_ip or tg.host_ip,
        "message": tg.message,
        "startTime": rfc3339(tg.created),
        "lastUpdateTime": rfc3339(tg.updated),
        "reportTime": rfc3339(tg.updated),
        "containerStatuses": containers,
        "healthy": tg.healthy,  # None until every check reported (or when nothing is checked)
        "bcsMessage": "",
    }


def app_doc(sched: Any, app: records.Application) -> dict[str, Any]:
    tgs = sched.tgs_of(app.namespace, app.name)
    return {
        "metadata": {
            "name": app.name,
            "namespace": app.namespace,
            "labels": dict(app.spec.labels),
            "clusterId": sched.cluster_id,
        },
        "kind": "APP",
        "instance": app.instances,
        "buildedInstance": len(tgs),
        "runningInstance": sum(1 for tg in tgs if tg.status == "Running"),
        "createTime": rfc3339(app.created),
        "lastUpdateTime": rfc3339(app.updated),
        "reportTime": rfc3339(app.updated),
        "status": app.status,
        "lastStatus": app.last_status,
        "message": app.message,
        "pods": [{"name": tg.id, "status": tg.status} for tg in tgs],
    }


def deployment_doc(sched: Any, dep: records.Deployment) -> dict[str, Any]:
    return {
        "metadata": {"name": dep.spec.name, "namespace": dep.spec.namespace},
        "status": dep.status,
        "application": {"name": dep.application},
        "application_ext": {"name": dep.application_ext} if dep.application_ext else None,
        "isInRolling": dep.rolling,
        "currRollingOperation": dep.phase,
        "lastRollingTime": dep.last_rolling,
        "instance": dep.spec.app.instances,
        "strategy": dict(dep.spec.raw.get("spec", {}).get("strategy") or {}),
    }
