"""`cstui golden`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
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
        "golden", parents=[DB, JSON], help="the append-only golden / regression set",
        description="Add sessions from any run to the regression set (append-only, audited), list it, or export it "
        "in the native format with each case's reason. `--from-run R --evaluator E --confirmed` adds every failure "
        "of E a reviewer confirmed. Gate a run on it with a gates.toml rule `metric = \"golden\"`.",
    )
    p.add_argument("action", choices=["add", "list", "export"])
    p.add_argument("session", nargs="?", metavar="SESSION")
    p.add_argument("--run", metavar="NAME", help="the session's run (when its id is in several runs)")
    p.add_argument("--reason", metavar="TEXT")
    p.add_argument("--evaluator", metavar="E", help="the evaluator the case is about")
    p.add_argument("--from-run", metavar="NAME", help="add the confirmed failures of --evaluator from this run")
    p.add_argument("--confirmed", action="store_true", help="only failures a reviewer labelled fail")
    p.add_argument("--out", metavar="FILE", help="export target (JSONL)")
    p.set_defaults(func=cmd_golden)


def cmd_golden(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.textsafe import inert

    reviewer = load_config().reviewer
    with open_store(args, write=args.action == "add") as store:
        if args.action == "add":
            if args.from_run:
                if not (args.evaluator and args.confirmed):
                    raise UsageError("--from-run needs --evaluator E --confirmed (failures a reviewer confirmed)")
                store.run(args.from_run)
                confirmed = sorted(v["session_id"] for v in store.labelled_verdicts(args.from_run)  # newest counts
                                   if v["evaluator"] == args.evaluator and v["verdict"] == "fail")
                have = {(c["source_run"], c["session_id"]) for c in store.golden_cases()}
                added = [store.add_golden(args.from_run, sid, args.reason or f"confirmed {args.evaluator} failure",
                                          evaluator=args.evaluator, reviewer=reviewer)
                         for sid in confirmed if (args.from_run, sid) not in have]
                print(f"added {len(added)} confirmed {args.evaluator} failure(s) from run "
                      f"{inert(args.from_run)} to the regression set ({len(confirmed) - len(added)} already there)")
                return EXIT_OK
            if not args.session or not args.reason:
                raise UsageError("usage: cstui golden add SESSION --reason TEXT [--run NAME]")
            run = args.run or store.run_of_session(args.session)
            case = store.add_golden(run, args.session, args.reason, evaluator=args.evaluator, reviewer=reviewer)
            print(f"regression case #{case}: {inert(args.session)} from run {inert(run)}")
            return EXIT_OK
        cases = store.golden_cases()
    if args.action == "list":
        if args.json:
            print_json([{k: v for k, v in c.items() if k != "doc"} for c in cases])
            return EXIT_OK
        for c in cases:
            print(f"#{c['id']} {inert(c['session_id'])} from {inert(c['source_run'])}"
                  f"{' [' + inert(c['evaluator']) + ']' if c['evaluator'] else ''}: {inert(c['reason'])}"
                  f" — {inert(c['added_by'])} {inert(c['added_at'])}")
        if not cases:
            print("the regression set is empty: cstui golden add SESSION --reason TEXT")
        return EXIT_OK
    if not args.out:
        raise UsageError("cstui golden export needs --out FILE")
    import orjson

    from cstui.outfile import output_file
    from cstui.textsafe import json_safe_bytes

    out = Path(args.out)
    with output_file(out) as fh:
        for c in cases:
            doc = orjson.loads(c["doc"])
            doc["golden"] = {"case": c["id"], "reason": c["reason"], "source_run": c["source_run"],
                             "evaluator": c["evaluator"], "added_by": c["added_by"], "added_at": c["added_at"]}
            fh.write(json_safe_bytes(orjson.dumps(doc)) + b"\n")
    print(f"wrote {len(cases)} regression case(s) to {inert(str(out))} (native format, re-importable)",
          file=sys.stderr)
    return EXIT_OK
