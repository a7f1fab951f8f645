"""Helpers shared by the GameDeployment and GameStatefulSet operators: revisions, expectations, pod
ordering, in-place/hot-patch updates, HookRun glue, canary steps and the controller skeleton.

No workload-specific reconcile logic lives here; each operator package owns its own.
"""
