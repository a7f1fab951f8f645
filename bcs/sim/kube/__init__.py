"""`bcs sim kube`: a simulated Kubernetes API server that kubectl and the official clients accept.

Layout: ``cluster`` (the in-process ``KubeSim``), ``server`` (aiohttp routes), ``lists`` (LIST
responses), ``store`` and ``watch`` (objects, resourceVersions, events), ``api`` (create/update/patch/
delete semantics), ``resources`` (the served kinds), ``views`` (events.k8s.io Events over core Events),
``typedefs``/``typeschema`` (the 1.32 built-in types), ``bodies``/``protobuf`` (request bodies),
``fieldvalidation``/``structural`` (unknown and duplicate fields, CRD pruning and defaults),
``discovery``/``openapi``/``tables`` (what kubectl reads), ``patch``/``apply``, ``selectors``,
``podexec`` (exec and logs), ``tls``/``kubeconfig``, ``cli`` and ``controllers/``.
Nothing here imports the bcs product.
"""
