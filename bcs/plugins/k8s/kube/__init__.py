"""Generic Kubernetes client machinery shared by the data watch and the operators.

What belongs here: the raw-JSON API client (``client``), the list/watch cache (``informer``), the
rate-limited work queue (``workqueue``) and Lease-based leader election (``leader``). Nothing here knows
about a particular resource kind, bcs storage or the operators' business logic.
"""
