"""Draft-assist records: what the human agent did with each AI draft (the online metrics of docs/metrics.md).

A draft-assist session marks its last AI draft with a `draft` object on the assistant turn:
`{"decision": "accepted|edited|rejected", "latency_ms": 2100, "cost_usd": 0.012,
  "handle_time_s": 95, "hallucination_report": false}`; what the agent finally sent is the first
`agent` turn after it. The import pulls one row per such session into the `drafts` table so the daily
metrics never re-read documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cstui.models import Session

DECISIONS = {
    "accepted": "accepted", "accept": "accepted", "sent": "accepted", "sent_as_is": "accepted",
    "edited": "edited", "edit": "edited", "modified": "edited",
    "rejected": "rejected", "reject": "rejected", "discarded": "rejected",
}


@dataclass(frozen=True)
class DraftRecord:
    day: str | None
    decision: str | None
    latency_ms: float | None
    cost_usd: float | None
    edit_distance: float | None
    handle_time_s: float | None
    hallucination_report: bool | None

    def row(self) -> tuple[Any, ...]:
        report = None if self.hallucination_report is None else int(self.hallucination_report)
        return (self.day, self.decision, self.latency_ms, self.cost_usd, self.edit_distance, self.handle_time_s,
                report)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 else None


def edit_distance(draft: str, sent: str) -> float:
    """Normalized Levenshtein distance draft→sent: 0 identical, 1 nothing in common."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.normalized_distance(draft, sent)


def draft_record(session: Session) -> DraftRecord | None:
    """The draft-assist facts of a session, or None when it has no marked draft."""
    index = None
    for i in range(len(session.turns) - 1, -1, -1):
        turn = session.turns[i]
        if turn.role == "assistant" and isinstance(getattr(turn, "draft", None), dict):
            index = i
            break
    if index is None:
        return None
    turn = session.turns[index]
    meta: dict[str, Any] = turn.draft  # type: ignore[attr-defined]
    sent = next((t.text for t in session.turns[index + 1:] if t.role == "agent" and t.text), None)
    decision = DECISIONS.get(str(meta.get("decision", "")).strip().lower())
    if decision is None and sent is not None:  # not recorded: infer from what was sent
        decision = "accepted" if sent.strip() == turn.text.strip() else "edited"
    distance = edit_distance(turn.text, sent) if sent is not None and decision != "rejected" else None
    when = turn.at or session.started_at
    report = meta.get("hallucination_report")
    return DraftRecord(
        day=when.date().isoformat() if when else None, decision=decision,
        latency_ms=_number(meta.get("latency_ms")), cost_usd=_number(meta.get("cost_usd")),
        edit_distance=distance, handle_time_s=_number(meta.get("handle_time_s")),
        hallucination_report=report if isinstance(report, bool) else None,
    )
