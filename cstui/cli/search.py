"""`cstui search`: full-text search over what was said and what tools returned."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cstui.cli.common import DB, EXIT_OK, JSON, RUN, clear_line, open_store, print_json, progress_bar


def add_parser(sub: Any) -> None:
    p = sub.add_parser("search", parents=[DB, JSON, RUN], help="find a phrase in a run's turns and tool results",
                       description="Full-text search (SQLite FTS5, built on a run's first search and rebuilt "
                       "when its sessions change) over every turn's text and "
                       "every tool span's name and result in a run. The text is one phrase: words in that order, "
                       "case-insensitive. System prompts are left out (one policy phrase would match every session) unless the "
                       "text starts with 'system:'. Prints session, place (turn N, system N or span ID) and a snippet "
                       "with the match "
                       "in [ ]; open a hit with `cstui --run R --session S`.")
    p.add_argument("text", help="the phrase, e.g. \"has been processed\"")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N hits (default 50)")
    p.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    from cstui.textsafe import inert

    with open_store(args) as store:
        store.run(args.run)
        if not store.search_index_current(args.run):  # first search of this run, or its sessions changed
            print(f"indexing run {inert(args.run, keep_newlines=False)} for search (once per change)…", file=sys.stderr)
            store.index_for_search(args.run, progress=progress_bar("indexing"))
            clear_line()
        hits = store.search(args.run, args.text, limit=max(1, args.limit))
    if args.json:
        print_json(hits)
        return EXIT_OK
    for hit in hits:
        print(f"{inert(hit['session_id'], keep_newlines=False)}  {hit['place']:<12}  "
              f"{inert(hit['snippet'], keep_newlines=False)}")
    print(f"{len(hits)} hit(s)" + (f" (limit {args.limit}; --limit N for more)" if len(hits) >= args.limit else ""))
    return EXIT_OK
