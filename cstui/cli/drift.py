"""`cstui drift`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    JSON,
    UsageError,
    open_store,
    print_json,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "drift", parents=[DB, JSON], help="drift events between consecutive runs of one system",
        description="List drift events (metrics that moved significantly between consecutive runs of the same "
        "system; recorded after each `cstui eval`), re-detect them for a run, or note what was done about one.",
    )
    p.add_argument("action", nargs="?", default="list", choices=["list", "detect", "note"])
    p.add_argument("id", nargs="?", type=int, help="event id (for note)")
    p.add_argument("text", nargs="*", help="the remediation note (for note)")
    p.add_argument("--run", metavar="NAME", help="only this run's events")
    p.set_defaults(func=cmd_drift)


def cmd_drift(args: argparse.Namespace) -> int:
    from cstui.textsafe import inert

    with open_store(args, write=args.action in ("note", "detect")) as store:
        if args.action == "note":
            if args.id is None or not args.text:
                raise UsageError("usage: cstui drift note ID TEXT")
            store.note_drift(args.id, " ".join(args.text))
            print(f"drift event {args.id}: note recorded")
            return EXIT_OK
        if args.action == "detect":
            if not args.run:
                raise UsageError("cstui drift detect needs --run")
            from cstui.drift import detect_drift

            store.run(args.run)
            previous, _ = detect_drift(store, args.run)
            if previous is None:
                print(f"run {inert(args.run, keep_newlines=False)}: no earlier run of the same system to compare with")
        if args.run:
            store.run(args.run)
        events = store.drift_events(args.run)
    if args.json:
        print_json(events)
        return EXIT_OK
    if not events:
        print("no drift events recorded")
        return EXIT_OK
    for e in events:
        value = (f"{e['previous']:.3f} → {e['current']:.3f}" if e["metric"] == "ece"
                 else f"{100 * e['previous']:.1f}% → {100 * e['current']:.1f}% ({100 * e['delta']:+.1f} pts, "
                 f"p={e['p_value']:.2g})")
        note = f"  note by {inert(e['noted_by'])}: {inert(e['note'], keep_newlines=False)}" if e["note"] else "  (no note yet)"
        print(f"#{e['id']} {inert(e['run'])} vs {inert(e['previous_run'])}: {inert(e['metric'])} [{inert(e['scope'])}] "
              f"{value}  detected {inert(e['detected_at'])}\n{note}")
    return EXIT_OK
