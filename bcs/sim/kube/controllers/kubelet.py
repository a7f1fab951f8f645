"""The fake kubelet of every simulated node: runs bound pods and reports their status.

Pending -> (ContainerCreating) -> Running with podIP/hostIP, containerStatuses whose ``imageID`` is
derived from the image, and ``Ready``/``ContainersReady`` conditions that honour ``readinessGates``.
Changing a container's image on a running pod restarts only that container (new imageID,
``restartCount+1``); with the ``HOT_PATCH_ANNOTATION`` set to "true" the new image is taken in
place (new imageID, no restart). Deleted pods are stopped and removed after ``kill_delay``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from bcs.sim.kube import store
from bcs.sim.kube.controllers import base

__all__ = ["HOT_PATCH_ANNOTATION", "Kubelet", "image_id", "normalize_image"]

# A pod annotated with this key set to "true" takes image changes without restarting containers.
HOT_PATCH_ANNOTATION = "sim.bcs.io/hot-patch"


def normalize_image(image: str) -> str:
    """``nginx:1.25`` -> ``docker.io/library/nginx:1.25`` (what a container runtime reports)."""
    name = image
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    tail = name.rsplit("/", 1)[-1]
    if ":" not in tail and "@" not in tail:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    """A stable digest reference derived from the image name."""
    full = normalize_image(image)
    repo = full.split("@", 1)[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(full.encode()).hexdigest()}"


def _container_id(uid: str, name: str, restarts: int) -> str:
    return "containerd://" + hashlib.sha256(f"{uid}/{name}/{restarts}".encode()).hexdigest()


def _cond(conds: list[dict[str, Any]], type_: str, value: bool, now: str, **extra: Any) -> None:
    want = "True" if value else "False"
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") != want:
                c["status"], c["lastTransitionTime"] = want, now
            c.update(extra)
            if value:
                c.pop("reason", None)
                c.pop("message", None)
            return
    conds.append({"type": type_, "status": want, "lastProbeTime": None, "lastTransitionTime": now, **extra})


class Kubelet(base.Controller):
    name = "kubelet"
    watches = ("/pods",)

    def __init__(self, cl: Any) -> None:
        super().__init__(cl)
        self.rt = self.reg.builtin("", "pods")
        self.nodes_rt = self.reg.builtin("", "nodes")
        self._ip = 0
        self._node_ips: dict[str, str] = {}

    def keys_for(self, ev: store.Event) -> Iterable[Any]:
        if ev.type == "DELETED" or not ev.obj.fields[0]:
            return ()
        return ((ev.obj.ns, ev.obj.name),)

    def _pod_ip(self) -> str:
        self._ip += 1
        n = self._ip
        return f"10.{244 + (n >> 16) % 12}.{(n >> 8) & 255}.{n & 255 or 1}"

    def _host_ip(self, node: str) -> str:
        ip = self._node_ips.get(node)
        if ip is None:
            obj = self.cl.store.get(self.nodes_rt, "", node)
            if obj is None:
                return ""
            addrs = (obj.decode().get("status") or {}).get("addresses") or []
            ip = next((a.get("address", "") for a in addrs if a.get("type") == "InternalIP"), "")
            self._node_ips[node] = ip
        return ip

    def reconcile(self, key: Any) -> None:
        ns, name = key
        obj = self.cl.store.get(self.rt, ns, name)
        if obj is None or not obj.fields[0]:
            return
        pod = obj.decode()
        meta, spec, st = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        node = spec["nodeName"]
        if self.cl.store.get(self.nodes_rt, "", node) is None:
            return  # not one of ours
        if meta.get("deletionTimestamp"):
            self._stop(pod, key)
            return
        phase = st.get("phase", "Pending")
        if phase in ("Succeeded", "Failed"):
            return
        if phase == "Pending":
            if self.cl.pod_start_delay > 0 and not st.get("containerStatuses"):
                self._creating(pod)
                self.enqueue_later(key, self.cl.pod_start_delay)
                return
            self._start(pod)
            return
        self._sync_running(pod)

    def _creating(self, pod: dict[str, Any]) -> None:
        node = pod["spec"]["nodeName"]
        now = self.cl.now()

        def edit(p: dict[str, Any]) -> None:
            names = [c["name"] for c in p["spec"]["containers"]]
            st = p.setdefault("status", {})
            conds = st.setdefault("conditions", [])
            _cond(conds, "PodReadyToStartContainers", False, now)
            _cond(conds, "Initialized", True, now)
            _cond(
                conds,
                "Ready",
                False,
                now,
                reason="ContainersNotReady",
                message=f"containers with unready status: [{' '.join(names)}]",
            )
            _cond(conds, "ContainersReady", False, now, reason="ContainersNotReady")
            st["hostIP"] = self._host_ip(node)
            st["hostIPs"] = [{"ip": st["hostIP"]}]
            st["startTime"] = now
            st["containerStatuses"] = [
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
                for c in p["spec"]["containers"]
            ]

        self.api.mutate(
            self.rt, pod["metadata"].get("namespace"), pod["metadata"]["name"], edit, sub="status"
        )

    def _running_status(self, c: dict[str, Any], uid: str, now: str, restarts: int = 0) -> dict[str, Any]:
        image = c.get("image", "")
        return {
            "name": c["name"],
            "image": normalize_image(image),
            "imageID": image_id(image),
            "containerID": _container_id(uid, c["name"], restarts),
            "ready": True,
            "started": True,
            "restartCount": restarts,
            "state": {"running": {"startedAt": now}},
        }

    def _start(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        node, now, uid = spec["nodeName"], self.cl.now(), meta.get("uid", "")
        pod_ip = (pod.get("status") or {}).get("podIP") or self._pod_ip()

        def edit(p: dict[str, Any]) -> None:
            st = p.setdefault("status", {})
            st["phase"] = "Running"
            st["hostIP"] = self._host_ip(node)
            st["hostIPs"] = [{"ip": st["hostIP"]}]
            st["podIP"] = pod_ip
            st["podIPs"] = [{"ip": pod_ip}]
            st.setdefault("startTime", now)
            st["containerStatuses"] = [self._running_status(c, uid, now) for c in p["spec"]["containers"]]
            self._conditions(p, now)

        self.api.mutate(self.rt, meta.get("namespace"), meta["name"], edit, sub="status")
        rec = self.cl.recorder
        for c in spec["containers"]:
            path = f"spec.containers{{{c['name']}}}"
            rec.record(
                pod,
                self.rt,
                "Pulled",
                f'Container image "{c.get("image")}" already present on machine',
                component="kubelet",
                host=node,
                field_path=path,
            )
            rec.record(
                pod,
                self.rt,
                "Created",
                f"Created container: {c['name']}",
                component="kubelet",
                host=node,
                field_path=path,
            )
            rec.record(
                pod,
                self.rt,
                "Started",
                f"Started container {c['name']}",
                component="kubelet",
                host=node,
                field_path=path,
            )

    @staticmethod
    def _conditions(p: dict[str, Any], now: str) -> None:
        st = p["status"]
        conds = st.setdefault("conditions", [])
        statuses = st.get("containerStatuses") or []
        all_ready = bool(statuses) and all(cs.get("ready") for cs in statuses)
        _cond(conds, "PodReadyToStartContainers", True, now)
        _cond(conds, "Initialized", True, now)
        _cond(conds, "ContainersReady", all_ready, now)
        have = {c.get("type"): c.get("status") for c in conds}
        gates = [g.get("conditionType") for g in (p.get("spec") or {}).get("readinessGates") or []]
        missing = [g for g in gates if have.get(g) != "True"]
        if all_ready and missing:
            _cond(
                conds,
                "Ready",
                False,
                now,
                reason="ReadinessGatesNotReady",
                message=f'corresponding condition of pod readiness gate "{missing[0]}" does not exist.',
            )
        else:
            _cond(conds, "Ready", all_ready, now)
        _cond(conds, "PodScheduled", True, now)

    def _sync_running(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        hot = (meta.get("annotations") or {}).get(HOT_PATCH_ANNOTATION) == "true"
        now, uid, node = self.cl.now(), meta.get("uid", ""), spec["nodeName"]
        restarted: list[str] = []
        patched: list[str] = []

        def edit(p: dict[str, Any]) -> None:
            st = p["status"]
            by_name = {cs.get("name"): cs for cs in st.get("containerStatuses") or []}
            out = []
            for c in p["spec"]["containers"]:
                cs = by_name.get(c["name"])
                if cs is None:
                    out.append(self._running_status(c, uid, now))
                    continue
                if cs.get("image") != normalize_image(c.get("image", "")):
                    if hot:
                        cs["image"], cs["imageID"] = normalize_image(c["image"]), image_id(c["image"])
                        patched.append(c["name"])
                    else:
                        started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", now)
                        new = self._running_status(c, uid, now, int(cs.get("restartCount", 0)) + 1)
                        new["lastState"] = {
                            "terminated": {
                                "exitCode": 0,
                                "reason": "Completed",
                                "startedAt": started,
                                "finishedAt": now,
                                "containerID": cs.get("containerID", ""),
                            }
                        }
                        cs = new
                        restarted.append(c["name"])
                out.append(cs)
            st["containerStatuses"] = out
            self._conditions(p, now)

        self.api.mutate(self.rt, meta.get("namespace"), meta["name"], edit, sub="status")
        rec = self.cl.recorder
        images = {c["name"]: c.get("image", "") for c in spec["containers"]}
        for name in restarted:
            path = f"spec.containers{{{name}}}"
            rec.record(
                pod,
                self.rt,
                "Killing",
                f"Container {name} definition changed, will be restarted",
                component="kubelet",
                host=node,
                field_path=path,
            )
            rec.record(
                pod,
                self.rt,
                "Pulled",
                f'Successfully pulled image "{images[name]}"',
                component="kubelet",
                host=node,
                field_path=path,
            )
            rec.record(
                pod,
                self.rt,
                "Started",
                f"Started container {name}",
                component="kubelet",
                host=node,
                field_path=path,
            )
        for name in patched:
            rec.record(
                pod,
                self.rt,
                "HotPatched",
                f'Container {name} image hot-patched to "{images[name]}"',
                component="kubelet",
                host=node,
                field_path=f"spec.containers{{{name}}}",
            )

    def _stop(self, pod: dict[str, Any], key: Any) -> None:
        meta = pod["metadata"]
        if not meta.get("finalizers"):
            if key not in self.cl.kill_pending:
                self.cl.kill_pending.add(key)
                for c in pod["spec"]["containers"]:
                    self.cl.recorder.record(
                        pod,
                        self.rt,
                        "Killing",
                        f"Stopping container {c['name']}",
                        component="kubelet",
                        host=pod["spec"]["nodeName"],
                        field_path=f"spec.containers{{{c['name']}}}",
                    )
                if self.cl.kill_delay > 0:
                    self.enqueue_later(key, self.cl.kill_delay)
                    return
            self.cl.kill_pending.discard(key)
            self.api.delete(self.rt, key[0], key[1], {"gracePeriodSeconds": 0})
