"""What every command shares: exit codes, the usage error, the --db and --plugin options (declared once),
opening the store, JSON output and progress on stderr."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

# Declared once, on the top-level parser and on every command that takes them; SUPPRESS as the default so
# `cstui --db X report` keeps X (a command's own default would otherwise overwrite it).
DB = argparse.ArgumentParser(add_help=False)
DB.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                help="SQLite database (default: $CSTUI_DB, else the platform data dir)")
TRUST_HELP = ("take plug-ins, the judge model/endpoint and the reviewer name from ./cstui.toml too (by default only "
              "your own config and the command line may set them; `cstui config show` says where each value came from)")
TRUST = argparse.ArgumentParser(add_help=False)
TRUST.add_argument("--trust-config", action="store_true", default=argparse.SUPPRESS, help=TRUST_HELP)
DB.add_argument("--trust-config", action="store_true", default=argparse.SUPPRESS, help=TRUST_HELP)
DB.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                help="open the database read-only: nothing is written to it, not even caches (commands that write "
                     "exit 2)")
PLUGIN = argparse.ArgumentParser(add_help=False)
PLUGIN.add_argument(
    "--plugin", action="append", default=argparse.SUPPRESS, metavar="PATH_OR_MODULE",
    help="load evaluators from a Python file or module (repeatable; also `plugins = [...]` in cstui.toml and "
         "the `cstui.evaluators` entry-point group; docs/evaluators.md)")

JSON = argparse.ArgumentParser(add_help=False)
JSON.add_argument("--json", action="store_true",
                  help="print JSON instead of text (shapes: docs/metrics.md and docs/formats.md)")
RUN = argparse.ArgumentParser(add_help=False)
RUN.add_argument("--run", required=True, metavar="NAME", help="the run (`cstui runs` lists them)")


class UsageError(Exception):
    """Bad input the user can fix; printed as one line, exit 2."""


def db_path(args: argparse.Namespace) -> Path:
    if getattr(args, "db", None):
        return Path(args.db).expanduser()
    from cstui.store import default_db_path

    return default_db_path()


def open_store(args: argparse.Namespace, *, must_exist: bool = True, write: bool = False):
    """The command's store: `write` for commands that change what the file holds (refused, in one line, on a
    read-only, foreign or locked file); reading commands never change it (an older or repaired file is read
    through a working copy). What the opening had to say (a working copy, an upgrade's backup) goes to stderr."""
    from cstui.store import Store

    path = db_path(args)
    if must_exist and not path.exists():
        raise UsageError(f"{path}: no such database (build one with `cstui demo --no-tui` or `cstui import`)")
    if getattr(args, "read_only", False) and write:
        raise UsageError("--read-only: this command writes to the database")
    mode = "read-only" if getattr(args, "read_only", False) else "write" if write else "read"
    store = Store(path, mode=mode, create=not must_exist)
    for notice in store.notices:
        sys.stderr.write(f"cstui: {notice}\n")
    return store


def print_json(value: Any) -> None:
    """One JSON document on stdout; a typed report (cstui.report_models) prints as its `to_json()`."""
    import orjson

    from cstui.textsafe import json_safe

    if hasattr(value, "to_json"):
        value = value.to_json()
    sys.stdout.write(json_safe(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()) + "\n")


def progress_printer(label: str):
    """A throttled one-line progress display on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None

    from cstui.textsafe import control, inert

    def show(where: str, n: int) -> None:
        control(sys.stderr, "\r")
        sys.stderr.write(f"{label} {inert(Path(where).name, keep_newlines=False)}: {n:,}…")
        sys.stderr.flush()

    return show


def progress_bar(label: str):
    """A progress bar with ETA on stderr when it is a terminal; nothing otherwise (CI logs stay clean)."""
    if not sys.stderr.isatty():
        return None
    import time

    from cstui.textsafe import control

    started = time.monotonic()

    def show(done: int, total: int) -> None:
        frac = done / total if total else 1.0
        elapsed = time.monotonic() - started
        eta = elapsed / frac - elapsed if frac else 0
        bar = "#" * int(frac * 30)
        control(sys.stderr, "\r")
        sys.stderr.write(f"{label} [{bar:<30}] {done:,}/{total:,} {elapsed:5.1f}s eta {eta:4.1f}s")
        sys.stderr.flush()

    return show


def clear_line() -> None:
    if sys.stderr.isatty():
        from cstui.textsafe import control

        control(sys.stderr, "\r\033[K")


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def print_counts(ids: list[str], counts: dict[str, dict[str, int]]) -> None:
    width = max([26, *(len(i) for i in ids)])
    show_errors = any(counts[i].get("errors") for i in ids)
    print(f"{'evaluator':<{width}} {'applies':>8} {'failed':>7} {'pass rate':>9}" + ("  errors" if show_errors else ""))
    for name in ids:
        c = counts[name]
        n = c["passed"] + c["failed"]
        pass_rate = f"{100 * c['passed'] / n:8.1f}%" if n else f"{'—':>9}"
        errors = f"  {c.get('errors', 0):>6,}" if show_errors else ""
        print(f"{name:<{width}} {n:>8,} {c['failed']:>7,} {pass_rate}{errors}")


def judge_settings(args: argparse.Namespace, cfg: Any):
    from cstui.judge import JudgeError, JudgeSettings

    try:
        return JudgeSettings.resolve(args.judge_model, args.judge_api_base, cfg=cfg, concurrency=args.concurrency,
                                     timeout=args.timeout)
    except JudgeError as exc:
        raise UsageError(str(exc)) from None


def formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's default formatter imports shutil (and zlib with it) just to read the terminal width."""
    try:
        width = os.get_terminal_size().columns
    except OSError:
        width = 80
    return argparse.HelpFormatter(prog, width=max(40, min(width, 120)) - 2)
