"""`cstui demo`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", parents=[DB], help="build the demo database from sample_data/ and open it",
                       description="Build the demo database (runs 'baseline' and 'candidate' with their KB) "
                       "and open the TUI on it. Default DB: demo.db in the platform data dir.")
    p.add_argument("--no-tui", action="store_true", help="only build the database and print what it loaded")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from cstui.demo import build_demo, demo_db_path

    path = Path(args.db).expanduser() if getattr(args, "db", None) else demo_db_path()
    summary = build_demo(path)
    for line in summary:
        print(line)
    if args.no_tui:
        return EXIT_OK
    from cstui.app import run_app

    return run_app(path, run=None, session=None)
