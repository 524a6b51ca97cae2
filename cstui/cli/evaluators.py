"""`cstui evaluators`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    EXIT_OK,
    JSON,
    PLUGIN,
    TRUST,
    print_json,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("evaluators", parents=[TRUST, PLUGIN, JSON], help="list the evaluators, built-in and plug-in",
                       description="Every evaluator cstui can run: id, kind (deterministic or judge), dimension, "
                       "version, where it comes from, and what it checks. Plug-ins: --plugin, `plugins` in "
                       "cstui.toml, or the `cstui.evaluators` entry-point group (docs/evaluators.md).")
    p.set_defaults(func=cmd_evaluators)


def cmd_evaluators(args: argparse.Namespace) -> int:
    """The registry, with plug-ins: what each evaluator checks and where it comes from."""
    from cstui.evaluators import registry
    from cstui.textsafe import inert

    rows = [{"id": ev.id, "kind": ev.kind, "dimension": ev.dimension, "version": ev.version,
             "hallucination_category": ev.hallucination_category, "source": ev.source,
             "description": ev.description} for ev in registry.all_evaluators()]
    if args.json:
        print_json(rows)
        return EXIT_OK
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        origin = "" if r["source"] == "cstui" else f" [plug-in {inert(r['source'], keep_newlines=False)}]"
        print(f"{r['id']:<{width}}  {r['kind']:<13} {r['dimension']:<11} v{r['version']}{origin}")
        if r["description"]:
            print(f"{'':<{width}}  {inert(r['description'], keep_newlines=False)}")
    return EXIT_OK
