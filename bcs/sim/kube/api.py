"""Object lifecycle semantics of the apiserver: create, update, patch, apply, delete, subresources.

Both the HTTP handlers and the built-in controllers go through ``Api``, so controllers see and make
exactly the changes a client would. Everything here is synchronous and runs on the event loop:
each call is one atomic step over the store. The verbs live in layers: reads and shared helpers
(``apibase``), create/update/delete (``apiwrite``), patches, apply and scale (``apipatch``).
"""

from __future__ import annotations

from bcs.sim.kube.apibase import now_iso
from bcs.sim.kube.apipatch import APPLY, JSON, MERGE, SMP, PatchApi

__all__ = ["APPLY", "JSON", "MERGE", "SMP", "Api", "now_iso"]


class Api(PatchApi):
    """One cluster's objects, with every verb the REST handlers and the controllers use."""
