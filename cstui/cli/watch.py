"""`cstui watch`."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from cstui.cli.common import DB, EXIT_OK, UsageError, db_path, open_store


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "watch", parents=[DB], help="import and evaluate each new export file dropped into a folder",
        description="Watch a folder: each new file, once it has stopped changing for --settle seconds, is imported "
        "exactly once (any format `cstui import` reads; a journal of the files' SHA-256 digests sits beside the "
        "database) and its sessions are evaluated with every deterministic evaluator. Prints one line per file. "
        "Ctrl-C stops. The folder may be someone else's: nothing is written into it.",
    )
    p.add_argument("directory", metavar="DIR", help="the folder to watch")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--run", metavar="NAME", help="the run sessions go to (created on the first file)")
    where.add_argument("--daily", metavar="PREFIX", help="one run per UTC day: PREFIX-YYYY-MM-DD")
    p.add_argument("--settle", type=float, default=2.0, metavar="S",
                   help="a file counts as written once unchanged this long (default 2 s)")
    p.add_argument("--interval", type=float, default=1.0, metavar="S", help="how often to look (default 1 s)")
    p.add_argument("--once", action="store_true", help="import what is there now, then exit")
    p.add_argument("--no-eval", action="store_true", help="import only; evaluate later with `cstui eval`")
    p.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.textsafe import inert
    from cstui.watch import Imported, watch

    directory = Path(args.directory)
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such folder")
    stopping = {"now": False}

    def stop(*_: Any) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def report(entry: Imported) -> None:
        done = f", {entry.evaluated:,} verdicts" if entry.evaluated else ""
        note = f" ({entry.note})" if entry.note else ""
        print(f"{inert(entry.path.name, keep_newlines=False)} → run {inert(entry.run, keep_newlines=False)}: "
              f"{entry.sessions:,} session(s){done}{note}", flush=True)

    with open_store(args, must_exist=False, write=True) as store:
        if not args.once:
            print(f"watching {inert(str(directory), keep_newlines=False)} (Ctrl-C stops)", flush=True)
        n = watch(store, db_path(args), directory, run=args.run, daily=args.daily, cfg=load_config(),
                  settle=args.settle, interval=args.interval, once=args.once, evaluate=not args.no_eval,
                  report=report, stop=lambda: stopping["now"],
                  refused=lambda path, why: print(f"refused {inert(why, keep_newlines=False)} (left alone until it "
                                                  "changes)", flush=True))
    print(f"{n:,} file(s) imported", flush=True)
    return EXIT_OK
