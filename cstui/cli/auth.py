"""`cstui auth`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from cstui.cli.common import (
    EXIT_OK,
    UsageError,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "auth", help="store a judge provider's API key in the OS keyring",
        description="Keys live in the OS keyring (or the provider's environment variable, e.g. OPENAI_API_KEY); "
        "never in the database, logs or exports. `set` reads the key from a prompt (or stdin when piped).",
    )
    p.add_argument("action", choices=["set", "delete", "status"])
    p.add_argument("provider", metavar="PROVIDER", help="litellm provider prefix: openai, anthropic, azure, …")
    p.set_defaults(func=cmd_auth)


def cmd_auth(args: argparse.Namespace) -> int:
    import getpass

    from cstui.judge import KEYRING_SERVICE, PROVIDER_ENV, keyring_key

    provider = args.provider
    try:
        import keyring
        import keyring.errors
    except ImportError:  # pragma: no cover - keyring is a dependency
        raise UsageError("the keyring package is not installed") from None
    env = PROVIDER_ENV.get(provider, f"{provider.upper()}_API_KEY")
    if args.action == "status":
        stored = keyring_key(provider) is not None
        in_env = bool(env and os.environ.get(env))
        print(f"{provider}: keyring {'set' if stored else 'not set'}; {env or 'no env var'} "
              f"{'set' if in_env else 'not set'}")
        return EXIT_OK
    try:
        if args.action == "delete":
            keyring.delete_password(KEYRING_SERVICE, provider)
            print(f"{provider}: key removed from the OS keyring")
            return EXIT_OK
        key = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass(f"{provider} API key: ")
        if not key:
            raise UsageError("no key given")
        keyring.set_password(KEYRING_SERVICE, provider, key)
    except keyring.errors.KeyringError as exc:
        raise UsageError(f"the OS keyring is not available ({type(exc).__name__}); use the {env or 'provider'} "
                         "environment variable instead") from None
    print(f"{provider}: key stored in the OS keyring (service '{KEYRING_SERVICE}')")
    return EXIT_OK
