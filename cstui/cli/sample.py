"""`cstui sample`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    RUN,
    UsageError,
    open_store,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sample", parents=[DB, RUN], help="stratified sample of a run into a new run (an eval slice)",
        description="Draw a reproducible stratified sample of a run's sessions into a new run. Proportional to "
        "traffic per stratum of --by, or to --target shares of one field (e.g. category:routine=0.6,edge=0.2,"
        "adversarial=0.1,safety=0.1). `cstui report` then shows the slice's composition against its target.",
    )
    p.add_argument("--size", required=True, type=int, metavar="N")
    p.add_argument("--into", required=True, metavar="NAME", help="the new run")
    p.add_argument("--by", metavar="A,B", help="strata: tier, intent, channel, category, segment (combined)")
    p.add_argument("--target", metavar="FIELD:V=SHARE,...", help="target mix of one field instead of traffic")
    p.add_argument("--seed", type=int, default=1, metavar="S")
    p.set_defaults(func=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    from cstui.sampling import parse_target, sample_run
    from cstui.textsafe import inert

    by = [b.strip() for b in args.by.split(",") if b.strip()] if args.by else []
    try:
        target = parse_target(args.target) if args.target else None
        with open_store(args, write=True) as store:
            store.run(args.run)
            result = sample_run(store, args.run, args.into, args.size, seed=args.seed, by=by, target=target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"run {inert(args.into)}: {result['n']} sessions sampled from {inert(args.run)} (seed {args.seed})")
    for key, row in result["composition"].items():
        goal = f" target {100 * row['target']:.0f}%" if row.get("target") is not None else ""
        print(f"  {key:<30} {row['n']:>5}  {100 * row['share']:5.1f}%{goal}")
    return EXIT_OK
