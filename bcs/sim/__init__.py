"""Simulators of the systems bcs manages (Kubernetes, Mesos), for tests, demos and benchmarks.

Each simulator speaks its system's real wire protocol and imports nothing of the bcs product, so the
product can be tested against it exactly as against the real thing.
"""
