"""`cstui gate`."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_GATE_FAILED,
    EXIT_OK,
    JSON,
    PLUGIN,
    RUN,
    db_path,
    open_store,
    print_json,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "gate", parents=[DB, PLUGIN, JSON, RUN], help="check a run against deploy gates (exit 1 when a blocking rule fails)",
        description="Check a run against threshold rules (default: the shipped gates.toml, the brief's table). "
        "Only rules whose on_fail says 'block' fail the gate; others are advisories. With --baseline, a rule also "
        "fails when its pass rate dropped more than 5 points and the drop is significant; the sessions that "
        "flipped from pass to fail are listed. Exit 0 pass, 1 fail, 2 bad input or gate file.",
    )
    p.add_argument("--baseline", metavar="NAME", help="compare with this run (sessions matched by session_id)")
    p.add_argument("--config", metavar="GATES.toml", help="gate file (default: the one shipped with cstui)")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report (one testcase per rule)")
    p.add_argument("--strict", action="store_true", help="a rule with no data (e.g. a judge that never ran) fails")
    p.set_defaults(func=cmd_gate)


def cmd_gate(args: argparse.Namespace) -> int:
    import time

    from cstui.gates import junit_xml, run_gate

    started = time.perf_counter()
    with open_store(args) as store:
        store.run(args.run)
        if args.baseline:
            store.run(args.baseline)
        result = run_gate(store, args.run, baseline=args.baseline,
                          config_path=Path(args.config) if args.config else None, strict=args.strict)
    if args.junit:
        from cstui.outfile import output_file

        with output_file(Path(args.junit)) as fh:
            fh.write(junit_xml(result, time.perf_counter() - started).encode("utf-8"))
    if args.json:
        print_json(result)
    else:
        from cstui.report_text import render_gate

        base = f"cstui --db {shlex.quote(str(db_path(args)))} --run {shlex.quote(args.run)}"
        rules = list(dict.fromkeys(r.rule for r in result.rules if r.name in result.failed))
        command = f"{base} --failures"  # every failing session; one rule's with --rule (default gate file only)
        if len(rules) == 1 and not args.config:
            command = f"{base} --rule {shlex.quote(rules[0])}"
        elif rules and not args.config:
            command += f"   (one rule's sessions: --rule {shlex.quote(rules[0])})"
        render_gate(result, open_command=command)
    return EXIT_OK if result.passed else EXIT_GATE_FAILED
