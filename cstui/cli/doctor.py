"""`cstui doctor`."""

from __future__ import annotations

import argparse
from typing import Any

from cstui.cli.common import DB, EXIT_GATE_FAILED, EXIT_OK, UsageError, db_path


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "doctor", parents=[DB], help="inspect a database someone else made; --repair removes what cstui did not create",
        description="Read a database through a read-only connection and say whether it is safe and sound: schema "
        "objects cstui did not create (a trigger or view can act when the file is written), cstui's own objects that "
        "were changed or removed, rows changed outside cstui, and whether the verdict summaries agree with the "
        "verdicts. Exit 0 when all is well, 1 when something was found. --repair keeps a copy of the file, drops the "
        "foreign objects, restores cstui's own, upgrades an older schema and rebuilds the summaries from the rows.",
    )
    p.add_argument("--repair", action="store_true", help="fix what was found (a backup copy is kept beside the file)")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from cstui.store.opening import SCHEMA_VERSION, OpenError, doctor, object_text
    from cstui.textsafe import inert

    path = db_path(args)
    try:
        check = doctor(path, repair=args.repair)
    except OpenError as exc:
        raise UsageError(str(exc)) from None
    print(f"{path}: a cstui database, schema v{check.version}"
          + ("" if check.version == SCHEMA_VERSION else f" (this cstui writes v{SCHEMA_VERSION})"))
    found = False
    for what, items in (("not created by cstui", check.diff.foreign), ("changed", check.diff.changed),
                        ("missing", check.diff.missing)):
        for item in items:
            print(f"  {what}: {inert(object_text(item))}")
            found = True
    if check.outside_writes:
        print(f"  rows changed outside cstui: {check.outside_writes:,} (summaries are rebuilt before they are read)")
        found = True
    if check.summaries_match is False:
        print("  the verdict summaries do not match the verdicts (reports would differ from exports)")
        found = True
    elif check.summaries_match:
        print("  verdict summaries match the verdicts")
    for line in check.done:
        print(f"  repaired: {line}")
    if not found:
        print("  no objects cstui did not create, nothing changed outside cstui")
        return EXIT_OK
    if check.done:
        return EXIT_OK
    print(f"`cstui doctor --repair --db {path}` fixes this (keeping a copy of the file)")
    return EXIT_GATE_FAILED
