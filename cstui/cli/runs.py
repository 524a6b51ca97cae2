"""`cstui runs`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    JSON,
    open_store,
    print_json,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("runs", parents=[DB, JSON], help="list runs", description="List the runs in the database.")
    p.set_defaults(func=cmd_runs)


def cmd_runs(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        runs = store.runs()
    if args.json:
        print_json([{"name": r["name"], "n_sessions": r["n_sessions"], "created_at": r["created_at"],
                      "source_format": r["source_format"], "system": r["system"], **r["import_stats"]} for r in runs])
        return EXIT_OK
    if not runs:
        print("no runs yet: `cstui import FILE --run NAME` or `cstui demo`")
        return EXIT_OK
    from cstui.textsafe import inert

    width = max(len(inert(r["name"])) for r in runs)
    print(f"{'run':<{width}}  {'sessions':>8}  created")
    for r in runs:
        print(f"{inert(r['name']):<{width}}  {r['n_sessions']:>8,}  {inert(r['created_at'])}")
    return EXIT_OK
