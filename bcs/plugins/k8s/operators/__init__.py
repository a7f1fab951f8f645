"""Kubernetes operators run by bcs: the Hook operator (HookTemplate/HookRun) today, the GameDeployment and
GameStatefulSet operators later. Each operator lives in its own subpackage and talks to its cluster only
through ``bcs.plugins.k8s.kube``; ``cli`` runs them (behind a Lease) standalone or for ``bcs serve``.
"""
