"""`cstui` command line. Imports stay inside the command functions: `--help` and headless commands must
not pay for textual, polars or litellm unless they use them.

Exit codes: 0 ok, 1 a gate failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad input the user can fix; printed as one line, exit 2."""


# ---------------------------------------------------------------------------------------------- helpers
def _db_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db).expanduser()
    from cstui.store import default_db_path

    return default_db_path()


def _open_store(args: argparse.Namespace, *, must_exist: bool = True):
    from cstui.store import Store

    path = _db_path(args)
    if must_exist and not path.exists():
        raise UsageError(f"{path}: no such database (build one with `cstui demo --no-tui` or `cstui import`)")
    return Store(path)


def _print_json(value: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")


def _progress_printer(label: str):
    """A throttled one-line progress display on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(where: str, n: int) -> None:
        sys.stderr.write(f"\r{label} {Path(where).name}: {n:,}…")
        sys.stderr.flush()

    return show


# ---------------------------------------------------------------------------------------------- commands
def cmd_tui(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if not path.exists():
        sys.stderr.write(
            f"cstui: no database at {path}.\n"
            "  Build the demo with `cstui demo`, or import data with `cstui import FILE --run NAME`.\n"
        )
        return EXIT_BAD_INPUT
    from cstui.app import run_app

    return run_app(path, run=args.run, session=args.session)


def cmd_demo(args: argparse.Namespace) -> int:
    from cstui.demo import build_demo, demo_db_path

    path = Path(args.db).expanduser() if args.db else demo_db_path()
    summary = build_demo(path)
    for line in summary:
        print(line)
    if args.no_tui:
        return EXIT_OK
    from cstui.app import run_app

    return run_app(path, run=None, session=None)


def cmd_runs(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        runs = store.runs()
    if args.json:
        _print_json([{"name": r["name"], "n_sessions": r["n_sessions"], "created_at": r["created_at"]} for r in runs])
        return EXIT_OK
    if not runs:
        print("no runs yet: `cstui import FILE --run NAME` or `cstui demo`")
        return EXIT_OK
    from cstui.textsafe import inert

    width = max(len(inert(r["name"])) for r in runs)
    print(f"{'run':<{width}}  {'sessions':>8}  created")
    for r in runs:
        print(f"{inert(r['name']):<{width}}  {r['n_sessions']:>8,}  {r['created_at']}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.ingest import import_files

    paths = [Path(p) for p in args.paths]
    for p in [*paths, *([Path(args.kb)] if args.kb else [])]:
        if not p.is_file():
            raise UsageError(f"{p}: no such file")
    if args.replace and args.append:
        raise UsageError("--replace and --append exclude each other")
    run = args.run or paths[0].stem
    mode = "replace" if args.replace else "append" if args.append else "create"
    db_path = _db_path(args)
    existed = db_path.exists()
    store = _open_store(args, must_exist=False)
    try:
        report = import_files(
            store, paths, run, kb=Path(args.kb) if args.kb else None, fmt=args.format, mode=mode,
            cfg=load_config(), progress=_progress_printer("importing"),
        )
    except BaseException:
        store.close()
        if not existed:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db_path) + suffix).unlink(missing_ok=True)
        raise
    store.close()
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    for path, fmt, n in report.files:
        print(f"{path}: {n:,} {'articles' if fmt == 'kb' else 'sessions'} ({fmt})")
    rate = report.n_sessions / report.seconds if report.seconds else 0
    print(f"run {run!r}: {report.n_sessions:,} sessions, {report.n_spans:,} spans, {report.n_kb} KB revisions "
          f"imported in {report.seconds:.2f}s ({rate:,.0f} sessions/s) into {db_path}")
    return EXIT_OK


def _progress_bar(label: str):
    """A progress bar with ETA on stderr when it is a terminal; nothing otherwise (CI logs stay clean)."""
    if not sys.stderr.isatty():
        return None
    import time

    started = time.monotonic()

    def show(done: int, total: int) -> None:
        frac = done / total if total else 1.0
        elapsed = time.monotonic() - started
        eta = elapsed / frac - elapsed if frac else 0
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{label} [{bar:<30}] {done:,}/{total:,} {elapsed:5.1f}s eta {eta:4.1f}s")
        sys.stderr.flush()

    return show


def cmd_eval(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.evaluate import resolve_evaluators, run_evaluators
    from cstui.textsafe import inert

    names = [n.strip() for n in args.evaluators.split(",") if n.strip()] if args.evaluators else None
    try:
        ids = resolve_evaluators(names)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    with _open_store(args) as store:
        summary = run_evaluators(store, args.run, ids, cfg=load_config(), processes=args.processes,
                                 progress=_progress_bar(f"eval {inert(args.run, keep_newlines=False)}"))
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    print(f"{'evaluator':<26} {'applies':>8} {'failed':>7} {'pass rate':>9}")
    for name in ids:
        c = summary.counts[name]
        n = c["passed"] + c["failed"]
        pass_rate = f"{100 * c['passed'] / n:8.1f}%" if n else f"{'—':>9}"
        print(f"{name:<26} {n:>8,} {c['failed']:>7,} {pass_rate}")
    print(f"{summary.n_results:,} results for {summary.n_sessions:,} sessions in {summary.seconds:.2f}s "
          f"(batch {summary.batch}); previous verdicts kept as history")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from cstui.export import export

    with _open_store(args) as store:
        store.run(args.run)
        n = export(store, args.run, what=args.what, fmt=args.format, out=Path(args.out))
    print(f"wrote {n:,} {args.what} rows to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from cstui.metrics import build_report
    from cstui.report_text import render_report

    with _open_store(args) as store:
        store.run(args.run)
        report = build_report(store, args.run, by=args.by)
    if args.json:
        _print_json(report)
    else:
        render_report(report, by=args.by)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        n, broken = store.verify_audit()
    if broken:
        print(f"audit log BROKEN after {n - 1} good records: {broken}")
        return EXIT_GATE_FAILED
    print(f"audit log intact: {n} records verified")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    db_parent = argparse.ArgumentParser(add_help=False)
    db_parent.add_argument(
        "--db", metavar="PATH", help="SQLite database (default: $CSTUI_DB, else the platform data dir)"
    )
    parser = argparse.ArgumentParser(
        prog="cstui",
        description="Offline workbench for evaluating customer-service LLM systems. "
        "Without a command, opens the review TUI.",
        parents=[db_parent],
        epilog="Exit codes: 0 ok, 1 a gate failed, 2 bad usage or bad input. "
        "Start with `cstui demo` to explore the demo data.",
    )
    parser.add_argument("--run", metavar="NAME", help="open this run's dashboard")
    parser.add_argument("--session", metavar="ID", help="open this session (with --run)")
    parser.set_defaults(func=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("demo", parents=[db_parent], help="build the demo database from sample_data/ and open it",
                       description="Build the demo database (runs 'baseline' and 'candidate' with their KB) "
                       "and open the TUI on it. Default DB: demo.db in the platform data dir.")
    p.add_argument("--no-tui", action="store_true", help="only build the database and print what it loaded")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("runs", parents=[db_parent], help="list runs", description="List the runs in the database.")
    p.add_argument("--json", action="store_true", help="print [{name, n_sessions, created_at}] as JSON")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser(
        "import", parents=[db_parent], help="import sessions into a run",
        description="Import session files into a run, atomically: a malformed record anywhere rejects "
        "everything with `file:line: reason` (exit 2) and leaves the database unchanged. Formats: native "
        "cstui.session/v1 JSONL, OpenAI chat messages / tau-bench results (JSON array or JSONL).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="session files")
    p.add_argument("--run", metavar="NAME", help="run name (default: the first file's name)")
    p.add_argument("--kb", metavar="KB.jsonl", help="knowledge base (cstui.kb/v1 JSONL) attached to the run")
    p.add_argument("--format", default="auto", choices=["auto", "native", "openai", "langfuse", "openinference"],
                   help="input format (default: detected from the first record)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--replace", action="store_true", help="replace an existing run of that name")
    group.add_argument("--append", action="store_true", help="add to an existing run of that name")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("eval", parents=[db_parent], help="run evaluators over a run",
                       description="Run evaluators over every session of a run and store the verdicts as a new "
                       "version (history is kept; the newest is current). Default: all deterministic evaluators.")
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--evaluators", metavar="A,B", help="comma-separated evaluator ids (default: all deterministic)")
    p.add_argument("--processes", type=int, metavar="N",
                   help="worker processes (default: one per core for runs of 4,000+ sessions, else 1)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("export", parents=[db_parent], help="export a run's sessions or results",
                       description="Export a run. sessions: native cstui.session/v1 documents, whatever "
                       "format they were imported from. results: one row per session x evaluator.")
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--what", required=True, choices=["sessions", "results", "labels"])
    p.add_argument("--format", default="jsonl", choices=["jsonl", "csv", "parquet"])
    p.add_argument("--out", required=True, metavar="FILE")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", parents=[db_parent], help="metrics for a run, per stratum",
                       description="Counts, resolution rates with Wilson 95%% intervals, escalation, "
                       "per stratum. Human-readable by default; --json for the full document.")
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--by", default="tier", choices=["tier", "intent", "channel", "category", "segment"],
                   help="stratum for the breakdown table (default: tier)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("audit", parents=[db_parent], help="verify the tamper-evident label audit log")
    p.add_argument("action", choices=["verify"])
    p.set_defaults(func=cmd_audit)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cstui.config import ConfigError
    from cstui.ingest.records import BadInput  # light: no pydantic
    from cstui.store import StoreError

    try:
        code = args.func(args)
    except BadInput as exc:
        sys.stderr.write(("\r\033[K" if sys.stderr.isatty() else "") + f"cstui: {exc}\n")
        return EXIT_BAD_INPUT
    except (UsageError, StoreError, ConfigError) as exc:
        sys.stderr.write(f"cstui: {exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("\ncstui: interrupted; nothing half-written was kept\n")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
