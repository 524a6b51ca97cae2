"""A machine verdict and what reviewers said about it, kept apart: the record every screen reads.

The evaluator's verdict (`machine`) is never overwritten by a reviewer's label; the label is kept beside it
(`reviews`, newest first), and the verdict that counts (`effective`) is derived from the two. "The newest label
wins" is written once, in the store (`cstui.store.labels.newest_first`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cstui.store.labels import newest_first


@dataclass(frozen=True)
class ReviewedVerdict:
    """One evaluator's current verdict on one session, with the reviewers' labels on it."""

    evaluator: str
    evaluator_version: str
    machine: bool | None  # the evaluator's own verdict: True pass, False fail, None not applicable
    rationale: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    score: float | None = None
    label: str | None = None
    detail: dict[str, Any] | None = None
    created_at: str | None = None
    reviews: tuple[dict[str, Any], ...] = ()  # reviewers' pass/fail labels on it, newest first

    @property
    def human(self) -> str | None:
        """The newest reviewer verdict ("pass" or "fail"), if any."""
        return self.reviews[0]["verdict"] if self.reviews else None

    @property
    def effective(self) -> bool | None:
        """What counts: the reviewer's verdict when there is one, else the machine's."""
        return self.machine if self.human is None else self.human == "pass"

    @property
    def overridden(self) -> bool:
        """A reviewer disagreed with the machine (a false alarm, or a miss)."""
        return self.human is not None and self.effective != self.machine

    @property
    def machine_word(self) -> str:
        return "n/a" if self.machine is None else "PASS" if self.machine else "FAIL"


def reviewed(results: Iterable[dict[str, Any]], labels: Iterable[dict[str, Any]]) -> list[ReviewedVerdict]:
    """Stored verdict rows (store.session_results) joined with the session's labels."""
    by_evaluator = newest_first(labels)
    return [ReviewedVerdict(
        evaluator=r["evaluator"], evaluator_version=str(r["evaluator_version"]),
        machine=None if r["passed"] is None else bool(r["passed"]), rationale=r.get("rationale"),
        evidence=list(r.get("evidence") or []), score=r.get("score"), label=r.get("label"), detail=r.get("detail"),
        created_at=r.get("created_at"), reviews=tuple(by_evaluator.get(r["evaluator"], ())))
        for r in results]
