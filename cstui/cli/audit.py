"""`cstui audit`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cstui.cli.common import (
    DB,
    EXIT_GATE_FAILED,
    EXIT_OK,
    UsageError,
    clear_line,
    open_store,
    progress_bar,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "audit", parents=[DB], help="verify the tamper-evident audit log, print its head, or make its HMAC key",
        description="verify: walk the hash-chained audit log and check labels, drift notes, regression cases and every "
        "evaluation's verdicts against it (exit 1 at the first problem). head: print the newest hash; keep it "
        "somewhere else and pass it to `verify --expect-head` to detect a log cut short or replaced. key: create an "
        "HMAC key in the OS keyring (or set CSTUI_AUDIT_KEY): records written while a key is present carry an HMAC, so "
        "an edited log whose chain was recomputed is detected.",
    )
    p.add_argument("action", choices=["verify", "head", "key"])
    p.add_argument("--expect-head", metavar="HASH", help="verify: fail unless this head (from `audit head`) is in "
                   "the log")
    p.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    if args.action == "key":
        return _make_key()
    with open_store(args) as store:
        if args.action == "head":
            print(store.audit_head())
            return EXIT_OK
        check = store.verify_audit(expect_head=args.expect_head, progress=progress_bar("verifying evaluations"))
    clear_line()
    signing = (f"{check.signed:,} signed with key {check.key}" if check.key and check.signed else
               "not signed (no key: `cstui audit key` or CSTUI_AUDIT_KEY)" if not check.key else
               f"none signed with key {check.key}")
    if check.problem:
        print(f"audit log BROKEN: {check.problem}")
        print(f"head {check.head} ({check.records:,} records read)")
        return EXIT_GATE_FAILED
    print(f"audit log intact: {check.records:,} records verified ({signing}); labels, drift notes, regression cases "
          f"and {check.evaluations:,} evaluations' verdicts match it")
    for note in check.notes:
        print(f"note: {note}")
    print(f"head {check.head}" + ("" if args.expect_head else
                                  " (keep it elsewhere; `--expect-head` then detects a log cut short)"))
    return EXIT_OK


def _make_key() -> int:
    import secrets

    from cstui.store.audit import KEYRING_NAME, KEYRING_SERVICE, key_id

    try:
        import keyring
        import keyring.errors

        if keyring.get_password(KEYRING_SERVICE, KEYRING_NAME):
            raise UsageError("an audit key is already in the OS keyring (delete it there first to replace it)")
        key = secrets.token_hex(32)
        keyring.set_password(KEYRING_SERVICE, KEYRING_NAME, key)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - no keyring backend on this machine
        raise UsageError(f"the OS keyring is not available ({type(exc).__name__}); set CSTUI_AUDIT_KEY instead (a "
                         "secret kept outside the database, the same on every machine that verifies)") from None
    print(f"audit key {key_id(key.encode())} stored in the OS keyring (service {KEYRING_SERVICE!r}); records written "
          "from now on carry its HMAC", file=sys.stderr)
    return EXIT_OK
