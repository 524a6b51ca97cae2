"""`cstui export`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    RUN,
    UsageError,
    open_store,
)
from cstui.vocab import EXPORT_FORMATS, EXPORT_WHAT


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", parents=[DB, RUN], help="export a run's sessions or results",
                       description="Export a run. sessions: native cstui.session/v1 documents, whatever "
                       "format they were imported from. results: one row per session x evaluator.")
    p.add_argument("--what", required=True, choices=EXPORT_WHAT,
                   help="evidence: one row per interaction x assertion (timestamp, system version, evaluator and "
                   "version, verdict, rationale, evidence, latest human label and who/when), then drift events")
    p.add_argument("--format", default="jsonl", choices=EXPORT_FORMATS)
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the file to write (a directory with --partitions); `-` or a device/FIFO is written directly")
    p.add_argument("--partitions", type=int, metavar="N",
                   help="sessions as Parquet only: write a directory of N files (session_id, document) that "
                   "`cstui eval --sessions DIR` and a Ray cluster read without importing (docs/scale.md)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from cstui.export import export, export_sessions_dataset

    if args.partitions is not None and (args.what != "sessions" or args.format != "parquet"):
        raise UsageError("--partitions writes sessions as Parquet: use it with --what sessions --format parquet")
    if args.partitions is not None and args.partitions < 1:
        raise UsageError("--partitions must be at least 1")
    with open_store(args) as store:
        store.run(args.run)
        if args.partitions is not None:
            n = export_sessions_dataset(store, args.run, Path(args.out), args.partitions)
        else:
            try:
                n = export(store, args.run, what=args.what, fmt=args.format, out=Path(args.out))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    from cstui.textsafe import inert

    print(f"wrote {n:,} {args.what} rows to {inert(args.out)}", file=sys.stderr)
    return EXIT_OK
