"""The Hook operator: HookTemplate/HookRun (``tkex.tencent.com/v1alpha1``) and the controller that runs
HookRuns' measurements (web, Prometheus, Kubernetes providers) to a verdict. Pure assessment rules live in
``assess``; I/O lives in ``controller`` and ``providers``.
"""
