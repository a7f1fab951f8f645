"""`bcs sim mesos`: a simulated Mesos master (v1 scheduler HTTP API) with simulated agents.

Layout: ``wire`` (JSON rules, call validation, task states), ``resources`` (scalars, ranges, sets),
``agents`` (simulated agents and the attributes file), ``tasks`` (tasks and reliable status updates),
``frameworks`` (framework records and their RecordIO subscription), ``allocator`` (offers and filters),
``launch`` (ACCEPT validation), ``calls`` (the other scheduler calls), ``executor`` (the simulated
agent/executor task lifecycle), ``master`` (the state machine), ``faults`` (fault injection),
``state`` (``/master/state`` and operator calls),
``server`` (aiohttp routes), ``sim`` (the in-process ``MesosSim``) and ``cli``.
Nothing here imports the bcs product.
"""
