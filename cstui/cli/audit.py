"""`cstui audit`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_GATE_FAILED,
    EXIT_OK,
    open_store,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("audit", parents=[DB], help="verify the tamper-evident label audit log")
    p.add_argument("action", choices=["verify"])
    p.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        n, broken = store.verify_audit()
        head = store.audit_head()
    if broken:
        print(f"audit log BROKEN: {broken}")
        return EXIT_GATE_FAILED
    print(f"audit log intact: {n} records verified; labels, drift notes and regression cases match it")
    print(f"head {head} (keep it elsewhere to detect a truncated log later)")
    return EXIT_OK
