"""`cstui import`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_OK,
    UsageError,
    clear_line,
    db_path,
    open_store,
    plural,
    progress_printer,
)
from cstui.vocab import IMPORT_FORMATS


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "import", parents=[DB], help="import sessions into a run",
        description="Import session files into a run, atomically: a malformed record anywhere rejects "
        "everything with `file:line: reason` (exit 2) and leaves the database unchanged. Formats (detected): "
        "native cstui.session/v1 JSONL; OpenAI chat messages and tau-bench results; Langfuse trace exports; "
        "OpenInference / OTel GenAI spans (Phoenix); OTLP/JSON (resourceSpans). Prints per file: sessions, turns, "
        "tool calls and errors, escalations, orphan and synthetic spans; where every source message went (read, "
        "merged as a resent history, empty, dropped); and the first warnings. --strict refuses any loss. Contract: "
        "docs/formats.md.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="session files")
    p.add_argument("--run", metavar="NAME", help="run name (default: the first file's name)")
    p.add_argument("--kb", metavar="KB.jsonl", help="knowledge base (cstui.kb/v1 JSONL) attached to the run")
    p.add_argument("--format", default="auto", choices=IMPORT_FORMATS,
                   help="input format (default: detected from the first record)")
    p.add_argument("--system", metavar="NAME",
                   help="the system this run belongs to; drift compares consecutive runs of one system")
    p.add_argument("--strict", action="store_true",
                   help="refuse the import (exit 2, nothing written) if any message or part would be dropped or "
                        "any turn text cut; without it such losses are imported as warnings")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--replace", action="store_true", help="replace an existing run of that name")
    group.add_argument("--append", action="store_true", help="add to an existing run of that name")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from cstui.config import load_config
    from cstui.ingest import import_files
    from cstui.textsafe import inert

    paths = [Path(p) for p in args.paths]
    for p in [*paths, *([Path(args.kb)] if args.kb else [])]:
        if not p.is_file():
            raise UsageError(f"{p}: no such file")
    if args.replace and args.append:
        raise UsageError("--replace and --append exclude each other")
    run = args.run or paths[0].stem
    mode = "replace" if args.replace else "append" if args.append else "create"
    path = db_path(args)
    existed = path.exists()
    store = open_store(args, must_exist=False, write=True)
    try:
        report = import_files(
            store, paths, run, kb=Path(args.kb) if args.kb else None, fmt=args.format, mode=mode,
            cfg=load_config(), progress=progress_printer("importing"), system=args.system, strict=args.strict,
        )
    except BaseException:
        store.close()
        if not existed:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        raise
    store.close()
    clear_line()
    for f in report.files:
        if f.format == "kb":
            print(f"{inert(f.path)}: {f.counts['articles']:,} articles (kb)")
            continue
        c = f.counts
        print(f"{inert(f.path)} ({f.format}): {plural(c['sessions'], 'session')}, {plural(c['turns'], 'turn')}, "
              f"{plural(c['tool_calls'], 'tool call')} ({plural(c['tool_errors'], 'error')}), "
              + (f"{plural(c['customer_tool_calls'], 'customer tool call')}, " if c["customer_tool_calls"] else "")
              + f"{plural(c['escalations'], 'escalation')}, {c['orphan_spans']:,} orphan and {c['synthetic_spans']:,} "
              f"synthetic tool spans, {plural(c['warnings'], 'warning')}")
        if c["messages"] or c["dropped"]:
            omitted = f", {c['omitted_parts']:,} non-text parts not kept (images, reasoning)" if c["omitted_parts"] else ""
            print(f"  messages: {c['messages']:,} read, {c['replayed']:,} merged as resent history (same role, text "
                  f"and calls), {c['empty']:,} empty{omitted}, {c['dropped']:,} dropped")
        if c["cut_turns"]:
            print(f"  {plural(c['cut_turns'], 'turn text')} cut to max_turn_chars")
        for warning in f.warnings:
            print(f"  warning: {inert(warning)}")
        if c["warnings"] > len(f.warnings):
            print(f"  … and {c['warnings'] - len(f.warnings):,} more warnings")
    rate = report.n_sessions / report.seconds if report.seconds else 0
    print(f"run {inert(repr(run))}: {report.n_sessions:,} sessions, {report.n_spans:,} spans, {report.n_kb} KB revisions "
          f"imported in {report.seconds:.2f}s ({rate:,.0f} sessions/s) into {inert(path)}")
    return EXIT_OK
