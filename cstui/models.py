"""Domain models: the native session format (docs/formats.md) and what the store keeps about it.

Every model keeps unknown keys (`extra="allow"`): exports must give back what came in.
Values an evaluator judges (e.g. a confidence of 1.7) are accepted here, not rejected, so that the
evaluator can report them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SESSION_SCHEMA = "cstui.session/v1"
KB_SCHEMA = "cstui.kb/v1"

Role = Literal["customer", "assistant", "agent", "system", "tool"]
SpanKind = Literal[
    "intent", "retrieval", "policy_lookup", "tool", "llm", "guardrail", "escalation", "response", "customer_tool",
    "other",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Turn(_Open):
    role: Role
    text: str = ""
    at: datetime | None = None
    confidence: float | None = None
    citations: list[str] = Field(default_factory=list)
    suppressed: bool = False

    @field_validator("text", mode="before")
    @classmethod
    def _null_text(cls, v: Any) -> Any:
        return "" if v is None else v


class Span(_Open):
    span_id: str
    parent_id: str | None = None
    kind: SpanKind = "other"
    name: str | None = None
    turn_index: int | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("span_id", "parent_id", mode="before")
    @classmethod
    def _ids_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @property
    def duration_ms(self) -> float | None:
        if self.start and self.end:
            return (self.end - self.start).total_seconds() * 1000
        return None


class Signals(_Open):
    survey: float | bool | None = None
    thumbs: bool | None = None
    reopened: bool | None = None
    repeat_contact_7d: bool | None = None
    action_verified: bool | None = None


class Outcome(_Open):
    resolved: bool | None = None
    correct: bool | None = None
    escalated: bool | None = None
    signals: Signals = Field(default_factory=Signals)


class Session(_Open):
    """One conversation, with the span tree of how the system produced it."""

    schema_: str = Field(default=SESSION_SCHEMA, alias="schema")
    session_id: str
    tier: Literal[1, 2, 3] | None = None
    intent: str | None = None
    channel: str | None = None
    segment: str | None = None
    category: str | None = None
    started_at: datetime | None = None
    account: dict[str, Any] = Field(default_factory=dict)
    turns: list[Turn]
    spans: list[Span] = Field(default_factory=list)
    outcome: Outcome = Field(default_factory=Outcome)
    reference: dict[str, Any] | None = None

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @field_validator("session_id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if isinstance(v, str) and not v.strip():
            raise ValueError("session_id is empty")
        return v

    @field_validator("schema_")
    @classmethod
    def _known_schema(cls, v: str) -> str:
        if v != SESSION_SCHEMA:
            raise ValueError(f"unsupported schema {v!r} (expected {SESSION_SCHEMA!r})")
        return v

    @model_validator(mode="after")
    def _turns_or_trace(self) -> Session:
        # A trace whose conversation could not be read still carries its spans; anything else needs turns.
        if not self.turns and not self.spans:
            raise ValueError("turns: a session needs at least one turn (or, for a trace, its spans)")
        return self

    def policy_texts(self) -> list[tuple[int, str]]:
        """System / developer messages (turn index, text): the deployment's own policy, e.g. τ-bench's."""
        return [(i, t.text) for i, t in enumerate(self.turns) if t.role == "system" and t.text.strip()]

    def last_assistant_confidence(self) -> float | None:
        """The session's stated confidence: its last shown assistant turn's (docs/metrics.md)."""
        for turn in reversed(self.turns):
            if turn.role == "assistant" and not turn.suppressed and turn.text:
                return turn.confidence
        return None


def first_escalation_turn(session: Session, escalation_tools: tuple[str, ...]) -> int | None:
    """Turn index of the first escalation (escalation span, or a transfer-like tool that succeeded)."""
    best: int | None = None
    found = False
    for span in session.spans:
        is_esc = span.kind == "escalation" or (
            span.kind == "tool"
            and span.status != "error"
            and any(word in (span.name or "").lower() for word in escalation_tools)
        )
        if is_esc:
            found = True
            if span.turn_index is not None and (best is None or span.turn_index < best):
                best = span.turn_index
    if best is None and (found or session.outcome.escalated):
        return max(len(session.turns) - 1, 0)
    return best


class KBArticle(_Open):
    schema_: str = Field(default=KB_SCHEMA, alias="schema")
    id: str
    revision: int = 1
    status: Literal["current", "deprecated", "deleted"] = "current"
    title: str = ""
    body: str = ""
    updated_at: datetime | None = None

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _known_schema(cls, v: str) -> str:
        if v != KB_SCHEMA:
            raise ValueError(f"unsupported schema {v!r} (expected {KB_SCHEMA!r})")
        return v


class Evidence(_Open):
    """Where a verdict's reason is: a turn (with the offending text's character offsets) and/or a span."""

    turn_index: int | None = None
    span_id: str | None = None
    snippet: str | None = None
    start: int | None = None  # offsets into turns[turn_index].text, so the UI highlights without matching text
    end: int | None = None


class Label(_Open):
    """A reviewer's verdict; append-only, the newest per (session, evaluator) wins."""

    session_id: str
    evaluator: str | None = None  # None: the session's overall correctness
    verdict: Literal["pass", "fail"] | None = None
    correct: bool | None = None
    tier: Literal[1, 2, 3] | None = None
    intent: str | None = None
    reason: str | None = None
    note: str | None = None
    reviewer: str
    source: Literal["triage", "queue", "cli"] = "triage"
