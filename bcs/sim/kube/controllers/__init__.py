"""Built-in controllers that make a simulated cluster behave like one.

``base`` holds the work-queue machinery; each other module is one controller (scheduler, kubelet,
workloads, statefulset, daemonset, endpoints, namespaces, garbage collector, nodes, crds, churn)
plus ``events``, the Event recorder they share. Reconcilers are synchronous: each is one atomic
step over the store, driven by store events and timers.
"""
