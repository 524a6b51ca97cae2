"""`cstui config`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    EXIT_OK,
    JSON,
    print_json,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("config", parents=[JSON], help="show the effective configuration and where each value came from")
    p.add_argument("action", choices=["show"])
    p.set_defaults(func=cmd_config)


def cmd_config(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from cstui.config import config_paths, load_config

    cfg = load_config()
    values = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "source"}
    if args.json:
        print_json({"values": values, "source": {k: cfg.source.get(k, "default") for k in values},
                     "searched": [str(p) for p in config_paths()]})
        return EXIT_OK
    print("config files searched (first found wins): " + ", ".join(str(p) for p in config_paths()))
    for key, value in values.items():
        shown = value if not isinstance(value, dict | list) or len(str(value)) < 100 else f"{str(value)[:97]}..."
        print(f"{key:<26} {shown}   [{cfg.source.get(key, 'default')}]")
    return EXIT_OK
