"""The ``bcs`` client verbs: talk to a bcs gateway over HTTP(S) with a bearer token.

``bcs cluster list|get|create|delete``, ``bcs credential list``, ``bcs user create``,
``bcs token create|list|revoke``, ``bcs permission grant|revoke|list``, ``bcs kubeconfig CLUSTER``.
Gateway from ``--server`` or ``$BCS_SERVER``; token from ``$BCS_TOKEN`` or ``--token-file``; trust
from ``--ca-file``/``$BCS_CA_FILE`` or ``--insecure``. No server code here: only HTTP calls.
"""

from __future__ import annotations

from bcs.client.commands import register_commands

__all__ = ["register_commands"]
