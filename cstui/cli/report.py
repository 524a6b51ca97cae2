"""`cstui report`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    JSON,
    PLUGIN,
    RUN,
    open_store,
    print_json,
)
from cstui.vocab import STRATA


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", parents=[DB, PLUGIN, JSON, RUN], help="metrics for a run, per stratum",
                       description="Counts, resolution rates with Wilson 95%% intervals, escalation, "
                       "per stratum. Human-readable by default; --json for the full document.")
    p.add_argument("--by", default="tier", choices=STRATA,
                   help="stratum for the breakdown table (default: tier)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from cstui.metrics import build_report
    from cstui.report_text import render_report

    with open_store(args) as store:
        store.run(args.run)
        report = build_report(store, args.run, by=args.by)
    if args.json:
        print_json(report)
    else:
        render_report(report, by=args.by)
    return EXIT_OK
