"""A machine verdict and what reviewers said about it, kept apart: the record every screen reads.

The evaluator's verdict (`machine`) is never overwritten by a reviewer's label; the label is kept beside it
(`reviews`, newest first), and the verdict that counts is derived from the two by `effective`, written here once.
"The newest label wins" is written once too, in the store (`cstui.store.labels.newest_first`). Over a whole run the
same rule is applied to the per-session bit masks (`cstui.store.chunks`), whose counts the failures list, reports,
gates and compare read; tests/test_tally.py holds the two to the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cstui.judge import Completion
from cstui.models import Evidence
from cstui.store.labels import newest_first


def effective(machine: bool | None, human: str | None) -> bool | None:
    """The verdict that counts: the newest reviewer's ("pass" / "fail") when there is one, else the machine's
    (True pass, False fail, None not applicable)."""
    return machine if human is None else human == "pass"


def verdict_word(passed: bool | None) -> str | None:
    """A verdict as exports write it: "pass", "fail", or None (not applicable)."""
    return None if passed is None else "pass" if passed else "fail"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Review:
    """One stored reviewer label, typed: a pass/fail verdict on an evaluator, or the session's overall correctness,
    tier or intent. Read from a database someone else may have written, so every field is coerced to its type."""

    evaluator: str | None = None
    verdict: str | None = None  # "pass" / "fail" on `evaluator`
    correct: bool | None = None
    tier: int | None = None
    intent: str | None = None
    reason: str | None = None
    note: str | None = None
    reviewer: str = ""
    source: str | None = None  # "triage", "queue" or "cli"
    created_at: str = ""
    id: int | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Review:
        """A `labels` row (store.labels) as a Review."""
        tier = row.get("tier")
        return cls(evaluator=_text(row.get("evaluator")), verdict=_text(row.get("verdict")),
                   correct=None if row.get("correct") is None else bool(row["correct"]),
                   tier=tier if isinstance(tier, int) else None, intent=_text(row.get("intent")),
                   reason=_text(row.get("reason")), note=_text(row.get("note")), reviewer=str(row.get("reviewer") or ""),
                   source=_text(row.get("source")), created_at=str(row.get("created_at") or ""),
                   id=row["id"] if isinstance(row.get("id"), int) else None)


def evidence_of(items: Any) -> list[Evidence]:
    """Stored evidence (a JSON list) as `Evidence`; items that are not evidence (a damaged or hostile file) are left
    out rather than reaching a screen."""
    from pydantic import ValidationError

    out = []
    for item in items if isinstance(items, list) else ():
        try:
            out.append(Evidence.model_validate(item))
        except ValidationError:
            continue
    return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class JudgeStep(Completion):
    """One call of an LLM judge as its transcript keeps it: the step, what it was asked, and the `Completion` (the
    reply as `text`, tokens, cost, cached, schema)."""

    step: str = ""
    prompt: str = ""


@dataclass(frozen=True)
class JudgeTranscript:
    """A judge verdict's stored `detail`, typed: model, strategy, the calls in order and the parsed verdict. Read from
    the file (a plug-in or someone else's database may hold anything there): what is not a step is left out."""

    model: str | None
    strategy: str | None
    steps: tuple[JudgeStep, ...]
    verdict: Any = None  # the judge's JSON verdict, as parsed

    @classmethod
    def of(cls, detail: Any) -> JudgeTranscript | None:
        if not isinstance(detail, dict):
            return None
        steps = tuple(JudgeStep(step=str(s.get("step", "")), prompt=str(s.get("prompt", "")), text=str(s.get("reply", "")),
                                prompt_tokens=int(_number(s.get("prompt_tokens")) or 0),
                                completion_tokens=int(_number(s.get("completion_tokens")) or 0),
                                cost_usd=_number(s.get("cost_usd")), cached=s.get("cached") is True,
                                schema=s.get("schema") is True)
                      for s in (detail.get("steps") if isinstance(detail.get("steps"), list) else ())
                      if isinstance(s, dict))
        return cls(model=_text(detail.get("model")), strategy=_text(detail.get("strategy")), steps=steps,
                   verdict=detail.get("verdict"))


@dataclass(frozen=True)
class ReviewedVerdict:
    """One evaluator's current verdict on one session, with the reviewers' labels on it."""

    evaluator: str
    evaluator_version: str
    machine: bool | None  # the evaluator's own verdict: True pass, False fail, None not applicable
    rationale: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    score: float | None = None
    label: str | None = None
    detail: dict[str, Any] | None = None
    created_at: str | None = None
    reviews: tuple[Review, ...] = ()  # reviewers' pass/fail labels on it, newest first

    @property
    def human(self) -> str | None:
        """The newest reviewer verdict ("pass" or "fail"), if any."""
        return self.reviews[0].verdict if self.reviews else None

    @property
    def effective(self) -> bool | None:
        """What counts: the reviewer's verdict when there is one, else the machine's."""
        return effective(self.machine, self.human)

    @property
    def overridden(self) -> bool:
        """A reviewer disagreed with the machine (a false alarm, or a miss)."""
        return self.human is not None and self.effective != self.machine

    @property
    def transcript(self) -> JudgeTranscript | None:
        """The LLM judge's calls behind this verdict, when it has them."""
        return JudgeTranscript.of(self.detail)

    @property
    def machine_word(self) -> str:
        return "n/a" if self.machine is None else "PASS" if self.machine else "FAIL"


def reviewed(results: Iterable[dict[str, Any]], labels: Iterable[dict[str, Any]]) -> list[ReviewedVerdict]:
    """Stored verdict rows (store.session_results) joined with the session's labels."""
    by_evaluator = newest_first(labels)
    return [ReviewedVerdict(
        evaluator=r["evaluator"], evaluator_version=str(r["evaluator_version"]),
        machine=None if r["passed"] is None else bool(r["passed"]), rationale=r.get("rationale"),
        evidence=evidence_of(r.get("evidence")), score=r.get("score"), label=r.get("label"), detail=r.get("detail"),
        created_at=r.get("created_at"), reviews=tuple(map(Review.of, by_evaluator.get(r["evaluator"], ()))))
        for r in results]
