"""``python -m bcs`` is the ``bcs`` command."""

from __future__ import annotations

import sys

from bcs import cli

sys.exit(cli.main())
