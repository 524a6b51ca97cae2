"""`cstui config`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    EXIT_OK,
    JSON,
    TRUST,
    print_json,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("config", parents=[TRUST, JSON], help="show the effective configuration and where each value came from")
    p.add_argument("action", choices=["show"])
    p.set_defaults(func=cmd_config)


def cmd_config(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from cstui.config import TRUSTED_ONLY, config_paths, load_config

    cfg = load_config()
    values = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name not in ("source", "ignored")}
    if args.json:
        print_json({"values": values, "source": {k: cfg.source.get(k, "default") for k in values},
                     "ignored": cfg.ignored, "searched": [str(p) for p in config_paths()]})
        return EXIT_OK
    from cstui.textsafe import inert

    print("config files, weakest first (later ones override key by key): "
          + ", ".join(inert(str(p)) for p in config_paths()))
    print(f"settings a project's cstui.toml may set only when trusted: {', '.join(TRUSTED_ONLY)}")
    for key, value in values.items():
        shown = value if not isinstance(value, dict | list) or len(str(value)) < 100 else f"{str(value)[:97]}..."
        print(f"{key:<26} {inert(str(shown))}   [{inert(cfg.source.get(key, 'default'))}]")
    for key, where in cfg.ignored.items():
        print(f"{key:<26} ignored (untrusted folder: {inert(where)}; --trust-config or trusted_folders to use it)")
    return EXIT_OK
