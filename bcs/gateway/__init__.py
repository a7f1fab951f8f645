"""The HTTP front door: middlewares (request ids, metrics, the one error map), health, readiness,
metrics and version routes; later the auth middleware and the cluster reverse proxy.

The gateway never imports a backend plugin: plugins contribute routes through ``bcs_register_routes``.
"""
