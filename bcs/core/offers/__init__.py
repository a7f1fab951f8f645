"""Two-level scheduling, engine-neutral: the offer pool, the constraint language and placement.

Offers here are plain data (an agent's free cpus/mem/disk/ports and its attributes); nothing in this
package knows the Mesos wire format, HTTP or storage. ``bcs.plugins.mesos`` turns master offers into
:class:`model.Offer` and placements into LAUNCH_GROUP operations.
"""

from __future__ import annotations

__all__: list[str] = []
