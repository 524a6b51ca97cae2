"""`cstui schema`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    EXIT_OK,
    print_json,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of the native session format (or --kb)",
                       description="JSON Schema (draft 2020-12) generated from the pydantic models.")
    p.add_argument("--kb", action="store_true", help="the knowledge-base record schema instead")
    p.set_defaults(func=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    from cstui.models import KBArticle, Session

    target = KBArticle if args.kb else Session
    schema = target.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cstui.kb/v1" if args.kb else "cstui.session/v1"
    print_json(schema)
    return EXIT_OK
