"""Effective configuration: built-in defaults, then the user's own `cstui.toml`, then a project's.

Files are layered, weakest first: the user config (platform config dir), then the project file
(`$CSTUI_CONFIG`, else `cstui.toml` in the current directory). A project file may be someone else's (a
folder handed over for review), so the settings that can run code or send data — plug-ins, the judge model
and endpoint, and the reviewer name written into the audit log (`TRUSTED_ONLY`) — are taken from it only
when it is trusted: `--trust-config`, `$CSTUI_CONFIG` (the user named it), or its folder listed in the user
config's `trusted_folders`. Otherwise they are ignored with one line on stderr. `cstui config show` says
where every value came from.

Kept dependency-light: the CLI reads it before deciding which heavy modules to import.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_INTENT_TIERS: dict[str, int] = {
    # Tier 1: routine informational
    "faq_billing": 1, "order_status": 1, "password_reset": 1, "data_export": 1, "two_factor": 1,
    "shipping_question": 1, "account_question": 1,
    # Tier 2: action-taking
    "refund_request": 2, "plan_downgrade": 2, "address_update": 2, "cancel_subscription": 2,
    "return_item": 2, "plan_change": 2,
    # Tier 3: complex / emotional
    "billing_dispute": 3, "hardship": 3, "fraud_claim": 3, "complaint": 3, "distress": 3,
}


@dataclass
class Config:
    intent_tiers: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_INTENT_TIERS))
    supported_intents: list[str] = field(default_factory=lambda: sorted(DEFAULT_INTENT_TIERS))
    # Substrings of tool names that hand the conversation to a human.
    escalation_tools: list[str] = field(default_factory=lambda: ["transfer", "escalat", "handoff", "hand_off"])
    # Verbs that make a tool side-effecting when the span does not say (docs/evaluators.md, "What a tool does").
    side_effect_verbs: list[str] = field(default_factory=lambda: [
        "refund", "cancel", "book", "update", "send", "transfer", "modify", "return", "exchange",
        "create", "delete", "change", "issue", "charge", "pay", "apply", "reset", "remove", "add",
        "submit", "schedule", "credit", "escalat", "close", "reopen", "set", "downgrade", "upgrade",
        "lock", "unlock", "freeze", "block", "suspend", "enable", "disable", "activate", "reverse", "waive",
    ])
    read_only_verbs: list[str] = field(default_factory=lambda: [
        "get", "find", "list", "search", "lookup", "look_up", "calculate", "think", "check", "fetch",
        "read", "query", "retrieve", "verify", "validate",
    ])
    # What each tool can do, where its name does not say: [tools] update_reservation_baggages = ["change", "payment"]
    tools: dict[str, list[str]] = field(default_factory=dict)
    min_words: int = 50
    max_words: int = 500
    fallback_confidence: float = 0.6
    max_turns_to_escalation: int = 4  # customer turns before the handoff
    frustration_threshold: float = 0.65  # the frustration evaluator fails at this calibrated chance (0-1)
    # Size limits at import (docs/formats.md): a longer turn text is cut with a warning; a longer session record
    # (after that) is rejected at its file:line. They bound what every evaluator and screen has to hold.
    max_turn_chars: int = 100_000
    max_session_bytes: int = 16_000_000
    reviewer: str | None = None
    judge_model: str | None = None
    judge_api_base: str | None = None
    # "auto" (response_format with the verdict's JSON schema where litellm says the model supports it), "schema"
    # (always: a local OpenAI-compatible server litellm does not know) or "text" (never)
    judge_response_format: str = "auto"
    # Natural-language policy assertions judged by the model: [[assertion]] id, text, optional intent/tier.
    assertion: list[dict[str, Any]] = field(default_factory=list)
    # Per-intent policy assertions checked without a model ([[policy]] here, or a policies file).
    policy: list[dict[str, Any]] = field(default_factory=list)
    # Evaluator plug-ins: Python files (relative to this file) or module names (docs/evaluators.md).
    plugins: list[str] = field(default_factory=list)
    # Folders whose cstui.toml may set TRUSTED_ONLY keys; read from the user config only.
    trusted_folders: list[str] = field(default_factory=list)
    source: dict[str, str] = field(default_factory=dict)
    # Settings of an untrusted project file that were not applied: key -> that file.
    ignored: dict[str, str] = field(default_factory=dict)

    def tier_for(self, intent: str | None) -> int | None:
        return self.intent_tiers.get(intent) if intent else None

    def is_side_effect_tool(self, name: str | None, declared: Any = None) -> bool:
        if isinstance(declared, bool):
            return declared
        low = (name or "").lower()
        words = low.replace("-", "_").split("_")
        head = words[0] if words else low
        if head in self.read_only_verbs:
            return False
        return any(verb in low for verb in self.side_effect_verbs)


# Settings that run code (plugins), send transcripts and keys somewhere (judge_model, judge_api_base) or speak for
# the reviewer in the audit log (reviewer): never taken from a file the user has not trusted.
TRUSTED_ONLY = ("plugins", "judge_model", "judge_api_base", "reviewer")
# Settings only the user's own config may hold (a project file cannot trust itself).
USER_ONLY = ("trusted_folders",)

_trust_project = False


def trust_project_config(trusted: bool = True) -> None:
    """`--trust-config`: take every setting of the project's cstui.toml for this process."""
    global _trust_project
    _trust_project = trusted


def user_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("cstui")) / "cstui.toml"


def project_config_path() -> tuple[Path, bool]:
    """The project file and whether the user named it ($CSTUI_CONFIG) rather than it being found in the cwd."""
    if env := os.environ.get("CSTUI_CONFIG"):
        return Path(env), True
    return Path.cwd() / "cstui.toml", False


def config_paths() -> list[Path]:
    """Where config is looked for, weakest first (later files override earlier ones key by key)."""
    return [user_config_path(), project_config_path()[0]]


class ConfigError(ValueError):
    pass


def load_config(path: Path | None = None, *, notify: bool = False) -> Config:
    """Defaults, then the user config, then the project file (or only `path`, which the caller chose: trusted).
    `notify`: print the one-line notice about ignored settings (the CLI does, once per command)."""
    cfg = Config()
    if path is not None:
        if path.is_file():
            _apply(cfg, path, trusted=True)
        return cfg
    user = user_config_path()
    if user.is_file():
        _apply(cfg, user, trusted=True, user=True)
    project, named = project_config_path()
    if project.is_file() and not _same_file(project, user):
        _apply(cfg, project, trusted=named or _trust_project or _in_trusted_folder(project, cfg.trusted_folders))
    if cfg.ignored and notify:
        _notice(cfg)
    return cfg


def _notice(cfg: Config) -> None:
    import sys

    keys = sorted(cfg.ignored)
    where = next(iter(cfg.ignored.values()))
    sys.stderr.write(f"cstui: ignoring {', '.join(keys)} from {where} (this folder is not trusted: pass "
                     f"--trust-config, or list it in trusted_folders in {user_config_path()})\n")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _in_trusted_folder(path: Path, folders: list[str]) -> bool:
    here = path.resolve().parent
    for folder in folders:
        try:
            if Path(folder).expanduser().resolve() == here:
                return True
        except OSError:
            continue
    return False


def _apply(cfg: Config, path: Path, *, trusted: bool, user: bool = False) -> None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    known = {f.name: f for f in fields(cfg) if f.name not in ("source", "ignored")}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown setting {key!r}")
        current = getattr(cfg, key)
        if current is not None and not isinstance(value, type(current)) and not (
            isinstance(current, float) and isinstance(value, int)
        ):
            raise ConfigError(f"{path}: {key} must be {type(current).__name__}")
        if key == "tools":
            _check_tools(path, value)
        if key == "judge_response_format" and value not in ("auto", "schema", "text"):
            raise ConfigError(f"{path}: judge_response_format must be 'auto', 'schema' or 'text'")
        if key in USER_ONLY and not user:
            cfg.ignored[key] = str(path)
            continue
        if key in TRUSTED_ONLY and not trusted:
            cfg.ignored[key] = str(path)
            continue
        setattr(cfg, key, value)
        cfg.source[key] = str(path)


TOOL_ACTIONS = ("transfer", "refund", "compensation", "cancel", "booking", "change", "payment", "return", "lock",
                "reset", "create", "any")


def _check_tools(path: Path, value: dict[str, Any]) -> None:
    for name, actions in value.items():
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise ConfigError(f"{path}: tools.{name} must be a list of action names")
        unknown = [a for a in actions if a not in TOOL_ACTIONS]
        if unknown:
            raise ConfigError(f"{path}: tools.{name}: unknown action {unknown[0]!r} (known: {', '.join(TOOL_ACTIONS)})")
