"""`bcs sim kube`: a simulated Kubernetes API server that kubectl and the official clients accept.

Layout: ``cluster`` (the in-process ``KubeSim``), ``server`` (aiohttp routes), ``store`` and ``watch``
(objects, resourceVersions, events), ``api`` (create/update/patch/delete semantics), ``resources``
(the served kinds), ``discovery``/``openapi``/``tables`` (what kubectl reads), ``patch``/``apply``,
``selectors``, ``podexec`` (exec and logs), ``tls``/``kubeconfig``, ``cli`` and ``controllers/``.
Nothing here imports the bcs product.
"""
