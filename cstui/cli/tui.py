"""`cstui` without a command: the review TUI."""

from __future__ import annotations

import argparse
import sys

from cstui.cli.common import (
    EXIT_BAD_INPUT,
    db_path,
)


def cmd_tui(args: argparse.Namespace) -> int:
    path = db_path(args)
    if not path.exists() and not sys.stdout.isatty():
        sys.stderr.write(
            f"cstui: no database at {path}.\n"
            "  Build the demo with `cstui demo`, or import data with `cstui import FILE --run NAME`.\n"
        )
        return EXIT_BAD_INPUT
    from cstui.app import run_app  # with no database, the TUI offers to build the demo

    return run_app(path, run=args.run, session=args.session, queue=args.queue)
