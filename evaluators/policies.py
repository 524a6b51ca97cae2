"""Policy assertions per intent (assertion-based evaluation), declared in a policies file:

```toml
[[policy]]
intent = "refund_request"        # "*" for every intent
name = "refund_claim_needs_refund_tool"
kind = "tool_before_claim"       # must_mention | must_not_mention | tool_before_claim | escalate_when | not_unless
claim = "refund (has been|was) (issued|processed)|I've (issued|processed)"
tool = "refund"
description = "A refund is only announced after a successful refund tool call."
```

Each becomes a deterministic evaluator `assert.<intent>.<name>` (intent "*" → "any") with pass/fail per
interaction and evidence, usable in gates and exports like the built-in ones. Patterns are
case-insensitive regular expressions matched against what the assistant showed (or, for
`escalate_when`, what the customer said).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from cstui.evaluators.base import (
    Evaluator,
    NotApplicable,
    RunContext,
    Verdict,
    shown_assistant_turns,
    snippet,
)
from cstui.models import Evidence, Session, first_escalation_turn

KINDS = {
    "must_mention": ("pattern",),
    "must_not_mention": ("pattern",),
    "tool_before_claim": ("claim", "tool"),
    "escalate_when": ("trigger",),
    "not_unless": ("pattern", "unless"),
}


class PolicyAssertionCheck(Evaluator):
    """One declared policy for one intent, checked without a model."""

    dimension = "compliance"

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.intent = spec["intent"]
        self.kind_name = spec["kind"]
        self.id = f"assert.{'any' if self.intent == '*' else self.intent}.{spec['name']}"  # type: ignore[misc]
        self.description = spec.get("description", "")  # type: ignore[misc]
        self.patterns = {key: re.compile(spec[key], re.IGNORECASE) for key in ("pattern", "claim", "trigger")
                         if key in spec}

    def applies(self, session: Session, ctx: RunContext) -> str | None:
        if self.intent != "*" and session.intent != self.intent:
            return f"intent {session.intent!r} is not {self.intent!r}"
        return None

    def check(self, session: Session, ctx: RunContext) -> Verdict:
        return getattr(self, f"_{self.kind_name}")(session, ctx)

    # ------------------------------------------------------------------ kinds
    def _must_mention(self, session: Session, ctx: RunContext) -> Verdict:
        shown = list(shown_assistant_turns(session))
        if not shown:
            raise NotApplicable("no assistant text shown")
        for i, turn in shown:
            if m := self.patterns["pattern"].search(turn.text):
                return Verdict(True, f"turn {i} mentions it", [Evidence(turn_index=i, snippet=snippet(
                    turn.text, m.start(), m.end()))])
        i, turn = shown[-1]
        return Verdict(False, f"no reply mentions /{self.spec['pattern']}/",
                       [Evidence(turn_index=i, snippet=snippet(turn.text, 0, 0))])

    def _must_not_mention(self, session: Session, ctx: RunContext) -> Verdict:
        for i, turn in shown_assistant_turns(session):
            if m := self.patterns["pattern"].search(turn.text):
                return Verdict(False, f"turn {i} says what the policy forbids",
                               [Evidence(turn_index=i, snippet=snippet(turn.text, m.start(), m.end()))])
        return Verdict(True, "nothing forbidden was said")

    def _tool_before_claim(self, session: Session, ctx: RunContext) -> Verdict:
        tool = str(self.spec["tool"]).lower()
        claims = [(i, turn, m) for i, turn in shown_assistant_turns(session)
                  if (m := self.patterns["claim"].search(turn.text))]
        if not claims:
            raise NotApplicable("no such claim made")
        for i, turn, m in claims:
            done = any(span.kind == "tool" and tool in (span.name or "").lower() and span.status != "error"
                       and (span.turn_index is None or span.turn_index <= i) for span in session.spans)
            if not done:
                return Verdict(False, f"turn {i} claims it without a successful '{tool}' call before it",
                               [Evidence(turn_index=i, snippet=snippet(turn.text, m.start(), m.end()))])
        return Verdict(True, f"every claim follows a successful '{tool}' call")

    def _escalate_when(self, session: Session, ctx: RunContext) -> Verdict:
        trigger = next(((i, t, m) for i, t in enumerate(session.turns) if t.role == "customer"
                        and (m := self.patterns["trigger"].search(t.text))), None)
        if trigger is None:
            raise NotApplicable("the trigger never appears")
        i, turn, m = trigger
        escalation = first_escalation_turn(session, tuple(ctx.cfg.escalation_tools))
        if escalation is not None and escalation >= i:
            return Verdict(True, f"escalated at turn {escalation} after the trigger at turn {i}")
        return Verdict(False, f"the customer said it at turn {i} and the session was not escalated",
                       [Evidence(turn_index=i, snippet=snippet(turn.text, m.start(), m.end()))])

    def _not_unless(self, session: Session, ctx: RunContext) -> Verdict:
        for i, turn in shown_assistant_turns(session):
            if (m := self.patterns["pattern"].search(turn.text)) and not self._condition(session, i):
                return Verdict(False, f"turn {i} says it but {self.spec['unless']} does not hold",
                               [Evidence(turn_index=i, snippet=snippet(turn.text, m.start(), m.end()))])
        return Verdict(True, "said only when allowed, or not at all")

    def _condition(self, session: Session, turn_index: int) -> bool:
        """`account.<key>` truthy on the account, or `span:<kind>.<attribute>` truthy on a span before the turn."""
        unless = str(self.spec["unless"])
        if unless.startswith("account."):
            value: Any = session.account
            for part in unless.split(".")[1:]:
                value = value.get(part) if isinstance(value, dict) else None
            return bool(value)
        if unless.startswith("span:"):
            kind, _, attr = unless[5:].partition(".")
            return any(span.kind == kind and bool(span.attributes.get(attr))
                       and (span.turn_index is None or span.turn_index <= turn_index) for span in session.spans)
        return False


def load_policies(path: Path) -> list[dict[str, Any]]:
    """Read and validate a policies file; ValueError names the file and the policy."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such policies file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    policies = data.get("policy", [])
    if not isinstance(policies, list):
        raise ValueError(f"{path}: [[policy]] tables expected")
    validate(policies, str(path))
    return policies


def validate(policies: list[dict[str, Any]], where: str = "policies") -> None:
    seen = set()
    for i, spec in enumerate(policies, start=1):
        label = f"{where}: policy #{i}"
        if not isinstance(spec, dict):
            raise ValueError(f"{label} must be a table")
        kind, name, intent = spec.get("kind"), spec.get("name"), spec.get("intent")
        if kind not in KINDS:
            raise ValueError(f"{label}: kind must be one of {', '.join(KINDS)}")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,60}", name):
            raise ValueError(f"{label}: name must be 1-60 lowercase letters, digits or '_'")
        if not isinstance(intent, str) or not intent:
            raise ValueError(f"{label} ({name}): intent must be an intent or \"*\"")
        for key in KINDS[kind]:
            if not isinstance(spec.get(key), str) or not spec[key]:
                raise ValueError(f"{label} ({name}): a {kind} policy needs {key} = \"...\"")
        for key in ("pattern", "claim", "trigger"):
            if key in spec:
                try:
                    re.compile(spec[key])
                except re.error as exc:
                    raise ValueError(f"{label} ({name}): {key} is not a valid regular expression: {exc}") from None
        if kind == "not_unless" and not str(spec["unless"]).startswith(("account.", "span:")):
            raise ValueError(f"{label} ({name}): unless must be account.<key> or span:<kind>.<attribute>")
        key = (intent, name)
        if key in seen:
            raise ValueError(f"{label}: duplicate policy {intent}.{name}")
        seen.add(key)
