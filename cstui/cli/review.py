"""`cstui review`."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    JSON,
    UsageError,
    db_path,
    open_store,
    print_json,
)
from cstui.vocab import STRATA


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "review", parents=[DB, JSON], help="build or list review queues (unbiased samples for judge agreement)",
        description="Build a review queue: a random sample of a run's sessions, stratified and reproducible from "
        "its seed, that the TUI steps through one session at a time. Labels given in a queue are reported apart "
        "from triage labels (which are selection-biased) in `report --json` alignment. Without --sample, lists "
        "the queues with their progress.",
    )
    p.add_argument("--run", metavar="NAME")
    p.add_argument("--sample", type=int, metavar="N", help="number of sessions to draw")
    p.add_argument("--stratify", choices=STRATA,
                   help="draw from each stratum in proportion to its size")
    p.add_argument("--seed", type=int, metavar="S", help="random seed (default 1); the same seed gives the same queue")
    p.add_argument("--name", metavar="QUEUE", help="queue name (default RUN-review-SEED)")
    p.set_defaults(func=cmd_review)


def cmd_review(args: argparse.Namespace) -> int:
    from cstui.textsafe import inert

    with open_store(args, write=args.sample is not None) as store:
        if args.sample is None:
            queues = store.review_queues(args.run)
            if args.json:
                print_json(queues)
                return EXIT_OK
            if not queues:
                print("no review queues yet: cstui review --run NAME --sample 20 --stratify tier --seed 1")
            for q in queues:
                print(f"{inert(q['name'])}  run {inert(q['run'])}  {q['reviewed']}/{q['size']} reviewed  seed {q['seed']}"
                      f"  stratified by {q['stratify'] or '—'}  created {q['created_at']}")
            return EXIT_OK
        if not args.run:
            raise UsageError("cstui review --sample needs --run")
        if args.sample < 1:
            raise UsageError("--sample must be at least 1")
        from cstui.review import build_queue

        seed = args.seed if args.seed is not None else 1
        try:
            name = build_queue(store, args.run, args.sample, seed, args.stratify, args.name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        items = store.review_items(name)
    if args.json:
        print_json({"queue": name, "items": items})
        return EXIT_OK
    strata: dict[str, int] = {}
    for item in items:
        strata[item["stratum"] or "all"] = strata.get(item["stratum"] or "all", 0) + 1
    print(f"review queue {inert(name)}: {len(items)} sessions of run {inert(args.run)} (seed {seed}); "
          + ", ".join(f"{k}: {v}" for k, v in sorted(strata.items())))
    db = f" --db {shlex.quote(str(db_path(args)))}" if getattr(args, "db", None) else ""
    print(f"open it with: cstui{db} --run {shlex.quote(inert(args.run))} --queue {shlex.quote(inert(name))}")
    return EXIT_OK
