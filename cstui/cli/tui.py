"""`cstui` without a command: the review TUI.

Everything that can be wrong before the first frame (no database, a corrupt or newer one, an unknown run,
session or queue) is one line on stderr and exit 2, never a traceback and never exit 0.
"""

from __future__ import annotations

import argparse
import sys

from cstui.cli.common import EXIT_BAD_INPUT, UsageError, db_path


def cmd_tui(args: argparse.Namespace) -> int:
    path = db_path(args)
    if not path.exists():
        if not sys.stdout.isatty() or args.run or args.session or args.queue:
            raise UsageError(f"no database at {path}: build the demo with `cstui demo`, or import data with "
                             "`cstui import FILE --run NAME`")
        from cstui.app import run_app  # with no database at all, the TUI offers to build the demo

        return run_app(path)
    from cstui.store import Store

    store = Store(path, create=False, mode="read-only" if getattr(args, "read_only", False) else "review")
    try:
        for notice in store.notices:
            sys.stderr.write(f"cstui: {notice}\n")
        run, session = check_start(store, args.run, args.session, args.queue, getattr(args, "baseline", None))
        failures = start_failures(store, run, args.failures, args.rule)
        from cstui.app import run_app

        code = run_app(path, run=run, session=session, queue=args.queue, baseline=getattr(args, "baseline", None),
                       store=store, failures=failures)
    finally:
        store.close()
    return code if code == 0 else EXIT_BAD_INPUT


def start_failures(store, run: str | None, wanted: bool, rule: str | None):
    """The failures list to open at start (--failures, or --rule NAME: the sessions behind that gate rule)."""
    if not wanted and rule is None:
        return None
    if run is None:
        raise UsageError("--failures and --rule need --run")
    from cstui.triage import FailureFilter, rule_failure_filter

    if rule is None:
        return FailureFilter()
    from cstui.gates import run_gate

    gate = run_gate(store, run)
    entry = next((r for r in gate.rules if r.name == rule or r.rule == rule), None)
    if entry is None:
        names = ", ".join(r.name for r in gate.rules)
        raise UsageError(f"no gate rule named {rule!r} in the default gates (rules: {names})")
    if entry.status == "no_data":
        raise UsageError(f"{entry.name}: {entry.message}")
    return rule_failure_filter(entry)


def check_start(store, run: str | None, session: str | None, queue: str | None,
                baseline: str | None = None) -> tuple[str | None, str | None]:
    """Where the TUI should open, checked against the database; `--session` alone finds its run."""
    path = store.path
    names = [r["name"] for r in store.runs()]
    for wanted, what in ((run, "run"), (baseline, "baseline run")):
        if wanted is not None and wanted not in names:
            known = ", ".join(names[:8]) + (" …" if len(names) > 8 else "") or "none yet"
            raise UsageError(f"no {what} named {wanted!r} in {path} (runs: {known})")
    if session is not None:
        if run is None:
            runs = store.runs_of_session(session)
            if not runs:
                raise UsageError(f"no session {session!r} in {path}")
            run = runs[0] if len(runs) == 1 else None  # in several runs: the TUI asks which
        elif session not in set(store.session_ids(run)):
            raise UsageError(f"no session {session!r} in run {run!r}")
    if queue is not None and not any(q["name"] == queue for q in store.review_queues()):
        raise UsageError(f"no review queue named {queue!r} in {path} (`cstui review --run R` lists them)")
    return run, session
