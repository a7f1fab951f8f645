"""Kubernetes operators run by bcs: the Hook operator (HookTemplate/HookRun) and the GameDeployment and
GameStatefulSet operators. Each operator lives in its own subpackage and talks to its cluster only
through ``bcs.plugins.k8s.kube``; ``base`` holds what their controllers share (workers, Events);
``cli`` runs them (behind a Lease) standalone or for ``bcs serve``.
"""
