"""``python -m bcs.client VERB ...``: the client verbs alone (``bcs VERB ...`` once wired into the CLI)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bcs.client import commands

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bcs", description="bcs gateway client")
    commands.register_commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
