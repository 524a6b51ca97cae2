"""`cstui prune`."""

from __future__ import annotations

import argparse
import time
from typing import Any

from cstui.cli.common import DB, EXIT_OK, UsageError, clear_line, db_path, open_store, progress_bar


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "prune", parents=[DB], help="delete verdicts that are no longer current (bounds the file's growth)",
        description="Every evaluation keeps the verdicts it replaces as history: about 2 GB per evaluation of a "
        "million sessions. Prune deletes that history (the verdicts of superseded evaluations, and those a rerun of "
        "chosen sessions replaced) in one transaction, recorded in the audit log. Current verdicts, labels, drift "
        "events and the audit log stay, so reports, gates and the TUI show the same afterwards. Later evaluations "
        "reuse the freed space; --vacuum also returns it to the disk.",
    )
    p.add_argument("--run", metavar="NAME", help="only this run's history (default: every run's)")
    p.add_argument("--dry-run", action="store_true", help="say what would be deleted, and delete nothing")
    p.add_argument("--vacuum", action="store_true",
                   help="then rewrite the file to give the freed space back to the disk (needs free disk about the "
                        "file's size and no other cstui process on the file; minutes at a million sessions)")
    p.set_defaults(func=cmd_prune)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def cmd_prune(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.store import StoreError
    from cstui.textsafe import inert

    if args.dry_run and args.vacuum:
        raise UsageError("--vacuum rewrites the file: it cannot be part of a --dry-run")
    path = db_path(args)
    scope = f"run {inert(args.run, keep_newlines=False)}" if args.run else "every run"
    started = time.perf_counter()
    with open_store(args, write=True) as store:
        if args.dry_run:
            h = store.history(args.run)
            print(f"{scope}: {h.verdicts:,} verdicts no longer current ({h.sets:,} verdict sets) would be deleted; "
                  "nothing deleted (--dry-run)")
            return EXIT_OK
        h = store.prune_history(args.run, reviewer=load_config().reviewer, progress=progress_bar(f"prune {scope}"))
        clear_line()
        print(f"{scope}: deleted {h.verdicts:,} verdicts no longer current ({h.sets:,} verdict sets) in "
              f"{time.perf_counter() - started:.1f}s; current verdicts and labels are unchanged (the audit log "
              "records the prune)")
        if not args.vacuum:
            print(f"{_mb(store.free_bytes())} free inside {path}, reused by later evaluations "
                  "(`cstui prune --vacuum` gives it back to the disk)")
            return EXIT_OK
        before = path.stat().st_size
        try:
            returned = store.vacuum()
        except StoreError as exc:
            raise UsageError(f"{exc}: close other cstui processes on the file, free some disk, and run "
                             "`cstui prune --vacuum` again (the prune itself is done)") from None
    if not returned:
        print(f"{path}: rewritten, but another process is reading it; the space goes back to the disk when it closes")
        return EXIT_OK
    print(f"{path}: {_mb(before)} → {_mb(path.stat().st_size)} after VACUUM")
    return EXIT_OK
