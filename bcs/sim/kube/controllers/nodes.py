"""Simulated nodes: their initial objects and the kubelet heartbeats that keep them noisy."""

from __future__ import annotations

from typing import Any

from bcs.sim.kube.controllers import base

__all__ = ["NodeHeartbeat", "node_object"]


def node_object(
    name: str, index: int, *, cpu: str = "32", memory: str = "128Gi", pods: str = "110"
) -> dict[str, Any]:
    ip = f"10.0.{index // 250}.{index % 250 + 2}"
    return {
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "sim.large",
                "topology.kubernetes.io/zone": f"sim-zone-{index % 3}",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"podCIDR": f"10.244.{index % 256}.0/24", "providerID": f"sim://{name}"},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"},
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "machineID": f"{index:032x}",
                "systemUUID": f"{index:08x}-0000-0000-0000-000000000000",
                "bootID": f"{index:08x}-b007-0000-0000-000000000000",
                "kernelVersion": "6.1.0-sim",
                "osImage": "bcs simulated node",
                "containerRuntimeVersion": "containerd://1.7.0-sim",
                "kubeletVersion": "v1.32.4",
                "kubeProxyVersion": "v1.32.4",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }


def conditions(now: str, since: str) -> list[dict[str, Any]]:
    healthy = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return [
        {
            "type": t,
            "status": s,
            "lastHeartbeatTime": now,
            "lastTransitionTime": since,
            "reason": r,
            "message": m,
        }
        for t, s, r, m in healthy
    ]


class NodeHeartbeat(base.Controller):
    """Refreshes every node's condition heartbeats each ``period`` seconds."""

    name = "node-heartbeat"

    def __init__(self, cl: Any, *, interval: float) -> None:
        super().__init__(cl)
        self.period = interval

    def tick(self) -> None:
        rt = self.reg.builtin("", "nodes")
        now = self.cl.now()
        for obj in list(self.cl.store.iter(rt)):

            def beat(o: dict[str, Any]) -> None:
                for c in (o.get("status") or {}).get("conditions") or []:
                    c["lastHeartbeatTime"] = now

            self.api.mutate(rt, None, obj.name, beat, sub="status")

    def reconcile(self, key: Any) -> None:
        return None
