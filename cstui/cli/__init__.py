"""`cstui` command line: one module per command (`add_parser` declares it, `cmd_*` runs it), shared options
and helpers in `common`. Imports stay inside the command functions: `--help` and headless commands must not
pay for textual, polars, pydantic or litellm unless they use them.

Exit codes: 0 ok, 1 a gate failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from cstui.cli.common import DB, EXIT_BAD_INPUT, EXIT_OK, PLUGIN, UsageError, formatter
from cstui.cli.tui import cmd_tui

__all__ = ["build_parser", "main"]

# In the order `cstui --help` lists them.
COMMANDS = ("demo", "runs", "ingest", "evaluate", "validate", "search", "export", "evaluators", "report", "gate", "drift",
            "label", "schema", "config", "golden", "sample", "review", "auth", "audit", "prune")
# Commands that run or report evaluators, and so load plug-ins.
PLUGIN_COMMANDS = frozenset({"tui", "evaluate", "validate", "report", "gate", "evaluators"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cstui", formatter_class=formatter,
        description="Offline workbench for evaluating customer-service LLM systems. "
        "Without a command, opens the review TUI.",
        parents=[DB, PLUGIN],
        epilog="Exit codes: 0 ok, 1 a gate failed, 2 bad usage or bad input. "
        "Start with `cstui demo` to explore the demo data.",
    )
    parser.add_argument("--run", metavar="NAME", help="open this run's dashboard")
    parser.add_argument("--session", metavar="ID", help="open this session (with --run)")
    parser.add_argument("--queue", metavar="NAME", help="step through this review queue (see `cstui review`)")
    parser.add_argument("--baseline", metavar="NAME",
                        help="compare --run with this run (remembered for that run; `b` on the runs screen sets it)")
    parser.set_defaults(func=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"cstui.cli.{name}").add_parser(sub)
    return parser


def _load_plugins(args: argparse.Namespace) -> None:
    """Plug-in evaluators for the commands that run or report evaluators (those with --plugin)."""
    command = getattr(getattr(args, "func", None), "__module__", "").rsplit(".", 1)[-1]
    if command not in PLUGIN_COMMANDS:
        return
    from cstui.config import load_config

    cfg = load_config()
    given = getattr(args, "plugin", None) or []
    if given or cfg.plugins:
        from cstui import plugins

        plugins.load_configured(cfg, given)


# polars' allocator (jemalloc) gives each of its threads an arena that keeps the pages freed after each chunk a
# report reads; one arena made a 1M-session gate peak 150 MB instead of 180-200, at no measurable cost
# (docs/scale.md). Read once, when polars is first imported; a value set in the environment wins.
ALLOCATOR = ("_RJEM_MALLOC_CONF", "narenas:1")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault(*ALLOCATOR)
    parser = build_parser()
    args = parser.parse_args(argv)
    from cstui.config import ConfigError
    from cstui.gates import GateConfigError
    from cstui.ingest.records import BadInput  # light: no pydantic
    from cstui.plugins import PluginError
    from cstui.store import StoreError

    try:
        _load_plugins(args)
        code = args.func(args)
    except PluginError as exc:
        sys.stderr.write(f"cstui: {exc}\n")
        return EXIT_BAD_INPUT
    except BadInput as exc:
        sys.stderr.write(("\r\033[K" if sys.stderr.isatty() else "") + f"cstui: {exc}\n")
        return EXIT_BAD_INPUT
    except (UsageError, StoreError, ConfigError, GateConfigError) as exc:
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
