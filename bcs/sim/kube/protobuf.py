"""Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

kubectl's generator subcommands (``kubectl create deployment|configmap|secret|namespace``) send
protobuf and never retry as JSON. The simulator has no verified source for the generated.proto
field numbers of every kind those commands create, and guessing would mean accepting bodies a real
server decodes differently, so it answers 415 with a Status naming the JSON workaround.
"""

from __future__ import annotations

from typing import Any

from bcs.sim.kube import status

__all__ = ["WORKAROUND", "decode"]

WORKAROUND = "kubectl create ... --dry-run=client -o yaml | kubectl apply -f -"


def decode(raw: bytes) -> Any:
    raise status.unsupported_media(
        "the simulated apiserver does not decode application/vnd.kubernetes.protobuf bodies; "
        f"send JSON instead, e.g. `{WORKAROUND}`"
    )
