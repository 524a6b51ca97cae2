"""`cstui` command line: one module per command (`add_parser` declares it, `cmd_*` runs it), shared options
and helpers in `common`. Imports stay inside the command functions: `--help` and headless commands must not
pay for textual, polars, pydantic or litellm unless they use them.

Exit codes mean one thing each: 0 ok, 1 a gate failed (or an audit/validation check did), 2 bad usage, bad input
or an environment problem (a missing, read-only, full, locked or foreign database: one line), 3 an internal error
(one line, and the traceback written to a file it names).

Everything a command prints goes through `SafeStream` (cstui.textsafe): no string from a file can reach the
terminal as a control sequence, whichever call site printed it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from importlib import import_module
from pathlib import Path

from cstui.cli.common import DB, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, PLUGIN, UsageError, formatter
from cstui.cli.tui import cmd_tui

__all__ = ["build_parser", "main"]

# In the order `cstui --help` lists them.
COMMANDS = ("demo", "runs", "ingest", "watch", "serve", "evaluate", "validate", "search", "export", "evaluators", "report", "gate", "drift",
            "label", "schema", "config", "golden", "sample", "review", "auth", "audit", "prune", "doctor")
# Commands that run or report evaluators, and so load plug-ins.
PLUGIN_COMMANDS = frozenset({"tui", "evaluate", "validate", "report", "gate", "evaluators"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cstui", formatter_class=formatter,
        description="Offline workbench for evaluating customer-service LLM systems. "
        "Without a command, opens the review TUI.",
        parents=[DB, PLUGIN],
        epilog="Exit codes: 0 ok, 1 a gate failed, 2 bad usage, bad input or environment, 3 internal error. "
        "Start with `cstui demo` to explore the demo data.",
    )
    parser.add_argument("--run", metavar="NAME", help="open this run's dashboard")
    parser.add_argument("--session", metavar="ID", help="open this session (with --run)")
    parser.add_argument("--failures", action="store_true", help="open the run's failures list (with --run)")
    parser.add_argument("--rule", metavar="NAME", help="open the failures list of this gate rule (with --run): what "
                        "`cstui gate` prints for a failed rule")
    parser.add_argument("--queue", metavar="NAME", help="step through this review queue (see `cstui review`)")
    parser.add_argument("--baseline", metavar="NAME",
                        help="compare --run with this run (remembered for that run; `b` on the runs screen sets it)")
    parser.set_defaults(func=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"cstui.cli.{name}").add_parser(sub)
    return parser


def _load_plugins(args: argparse.Namespace, cfg) -> None:
    """Plug-in evaluators for the commands that run or report evaluators (those with --plugin)."""
    command = getattr(getattr(args, "func", None), "__module__", "").rsplit(".", 1)[-1]
    if command not in PLUGIN_COMMANDS:
        return
    given = getattr(args, "plugin", None) or []
    if given or cfg.plugins:
        from cstui import plugins

        plugins.load_configured(cfg, given)


# polars' allocator (jemalloc) gives each of its threads an arena that keeps the pages freed after each chunk a
# report reads; one arena made a 1M-session gate peak 150 MB instead of 180-200, at no measurable cost
# (docs/scale.md). Read once, when polars is first imported; a value set in the environment wins.
ALLOCATOR = ("_RJEM_MALLOC_CONF", "narenas:1")


def main(argv: list[str] | None = None) -> int:
    """Parse, run the command, and turn every failure into one clean line and its exit code."""
    from cstui.textsafe import SafeStream

    os.environ.setdefault(*ALLOCATOR)
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(out), SafeStream(err)
    try:
        return _main(argv)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = out, err


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cstui.config import ConfigError, load_config, trust_project_config
    from cstui.gates import GateConfigError
    from cstui.ingest.records import BadInput  # light: no pydantic
    from cstui.plugins import PluginError
    from cstui.store import StoreError
    from cstui.textsafe import control

    try:
        trust_project_config(bool(getattr(args, "trust_config", False)))
        cfg = load_config(notify=True)
        _load_plugins(args, cfg)
        code = args.func(args)
    except BadInput as exc:
        if sys.stderr.isatty():
            control(sys.stderr, "\r\033[K")
        sys.stderr.write(f"cstui: {_one_line(exc)}\n")
        return EXIT_BAD_INPUT
    except (UsageError, StoreError, ConfigError, GateConfigError, PluginError) as exc:
        sys.stderr.write(f"cstui: {_one_line(exc)}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("\ncstui: interrupted; nothing half-written was kept\n")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the environment's errors are one line; anything else is ours
        environment = _environment_error(exc, args)
        if environment is not None:
            sys.stderr.write(f"cstui: {environment}\n")
            return EXIT_BAD_INPUT
        where = _write_traceback(exc)
        sys.stderr.write(f"cstui: internal error: {type(exc).__name__}: {_one_line(exc)[:300]} "
                         f"(traceback in {where}; please report it)\n")
        return EXIT_INTERNAL
    return code


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _environment_error(exc: Exception, args: argparse.Namespace) -> str | None:
    """The line for a failure of the machine or the file rather than of cstui: a full disk, a read-only or locked
    database, a file that is not a database, a path that cannot be read or written. None for anything else."""
    import errno

    from cstui.cli.common import db_path
    from cstui.store import database_error_line

    try:
        db = db_path(args)
    except Exception:  # noqa: BLE001
        db = "the database"
    line = database_error_line(exc, db)
    if line is not None:
        return line
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return f"{exc.filename or db}: the disk is full"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.ENOENT,
                         errno.EEXIST, errno.ENAMETOOLONG, errno.EBUSY):
            name = f"{exc.filename}: " if exc.filename else ""
            return f"{name}{exc.strerror or _one_line(exc)}"
    if isinstance(exc, MemoryError):
        return "out of memory (a record too large for this machine? see the size limits in docs/formats.md)"
    return None


def _write_traceback(exc: BaseException) -> str:
    """The traceback in a file of its own, so the terminal gets one line."""
    import tempfile
    import traceback
    from datetime import datetime

    text = "".join(traceback.format_exception(exc))
    try:
        from platformdirs import user_log_dir

        folder = Path(user_log_dir("cstui"))
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    path = folder / f"crash-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError:
        return "nowhere: the log folder is not writable"
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
