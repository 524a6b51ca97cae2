"""`cstui label`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    UsageError,
    open_store,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "label", parents=[DB], help="relabel a session (scripted review; append-only, audited)",
        description="Record a reviewer's verdict on one evaluator for a session, or the session's overall "
        "correctness, tier or intent. Labels are append-only with an audit record; metrics and gates use the newest. "
        "Reviewer: `reviewer` in your own cstui.toml, else the OS user (printed with the label).",
    )
    p.add_argument("session", metavar="SESSION", help="session id")
    p.add_argument("--run", metavar="NAME", help="the session's run (needed when the id is in several runs)")
    p.add_argument("--evaluator", metavar="E", help="evaluator id the verdict is about")
    p.add_argument("--verdict", choices=["pass", "fail"], help="the human verdict for --evaluator")
    p.add_argument("--correct", choices=["true", "false"], help="the session's overall correctness")
    p.add_argument("--tier", type=int, choices=[1, 2, 3], help="override the session's tier")
    p.add_argument("--intent", metavar="INTENT", help="override the session's intent")
    p.add_argument("--reason", metavar="REASON", help="failure reason (e.g. judge_right, false_alarm, policy)")
    p.add_argument("--note", metavar="TEXT", help="free-text note")
    p.set_defaults(func=cmd_label)


def cmd_label(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.textsafe import inert

    if args.verdict and not args.evaluator:
        raise UsageError("--verdict needs --evaluator (use --correct for the session's overall correctness)")
    if not any((args.verdict, args.correct, args.tier, args.intent, args.reason, args.note)):
        raise UsageError("nothing to record: give --evaluator E --verdict pass|fail, --correct, --tier, --intent "
                         "or --note")
    if args.evaluator:
        from cstui.evaluators import registry

        known = {ev.id for ev in registry.all_evaluators()}
        if args.evaluator not in known:
            raise UsageError(f"unknown evaluator {args.evaluator!r} (known: {', '.join(sorted(known))})")
    with open_store(args, write=True) as store:
        run = args.run or store.run_of_session(args.session)
        store.run(run)
        label = {"session_id": args.session, "evaluator": args.evaluator, "verdict": args.verdict,
                 "correct": None if args.correct is None else args.correct == "true", "tier": args.tier,
                 "intent": args.intent, "reason": args.reason, "note": args.note, "source": "cli"}
        label_id = store.add_label(run, label, reviewer=load_config().reviewer)
        history = store.labels(run, args.session)
        reviewer = history[-1]["reviewer"] if history else "?"
    what = f"{args.evaluator} = {args.verdict}" if args.verdict else "session label"
    print(f"label #{label_id} on {inert(args.session)} in run {inert(run)}: {what}, recorded as {inert(reviewer)} "
          f"({len(history)} label(s) in its history)")
    return EXIT_OK
