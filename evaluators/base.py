"""What every evaluator is: a stable id, a version, a dimension, an applicability rule and a check.

Evaluators see one session at a time plus a shared `RunContext` (config and the run's KB). They must
not import Textual, and must be pure functions of their inputs so reruns are reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ClassVar, Literal, TypeVar

from cstui.config import Config
from cstui.evaluators.text import ngrams
from cstui.models import Evidence, KBArticle, Session, Turn

Dimension = Literal["resolution", "factual", "calibration", "adversarial", "compliance", "efficiency", "safety"]


@dataclass
class KBIndex:
    """Revisions of every article in a run's KB, for citation and grounding checks."""

    revisions: dict[str, list[KBArticle]] = field(default_factory=dict)
    _stale: dict[tuple[str, ...], tuple[str, int]] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, articles: list[KBArticle]) -> KBIndex:
        index = cls()
        for art in articles:
            index.revisions.setdefault(art.id, []).append(art)
        for revs in index.revisions.values():
            revs.sort(key=lambda a: a.revision)
        return index

    def current(self, kb_id: str) -> KBArticle | None:
        return next((a for a in self.revisions.get(kb_id, []) if a.status == "current"), None)

    def revision(self, kb_id: str, revision: int) -> KBArticle | None:
        return next((a for a in self.revisions.get(kb_id, []) if a.revision == revision), None)

    def __bool__(self) -> bool:
        return bool(self.revisions)

    def deprecated_only_ngrams(self) -> dict[tuple[str, ...], tuple[str, int]]:
        """Five-word sequences found in a non-current revision and in no current article (computed once)."""
        if self._stale is None:
            current: set[tuple[str, ...]] = set()
            for art in (a for revs in self.revisions.values() for a in revs if a.status == "current"):
                current |= ngrams(art.body)
            self._stale = {}
            for art in (a for revs in self.revisions.values() for a in revs if a.status != "current"):
                for gram in ngrams(art.body) - current:
                    self._stale.setdefault(gram, (art.id, art.revision))
        return self._stale


@dataclass
class RunContext:
    cfg: Config = field(default_factory=Config)
    kb: KBIndex = field(default_factory=KBIndex)

    def tier(self, session: Session) -> int | None:
        return session.tier or self.cfg.tier_for(session.intent)


class NotApplicable(Exception):
    """Raised by `check` when the session is outside what the evaluator judges."""


@dataclass
class Verdict:
    """What any evaluator says about one session (a deterministic check, an LLM judge, a score imported with the
    traces): the one shape it has until the store adds where it came from (`cstui.store.VerdictRow`)."""

    passed: bool | None  # None: not applicable, or an error (label ERROR_LABEL)
    rationale: str
    evidence: list[Evidence] = field(default_factory=list)
    score: float | None = None
    label: str | None = None
    detail: dict[str, Any] | None = None  # an LLM judge's transcript (strategy, model, steps)

    @classmethod
    def not_applicable(cls, reason: str) -> Verdict:
        """The session is outside what the evaluator judges: neither a pass nor a failure."""
        return cls(None, f"not applicable: {reason}")

    @classmethod
    def error(cls, exc: BaseException) -> Verdict:
        """The evaluator raised on this session: counted as an error, never as a pass."""
        return cls(None, f"error: {type(exc).__name__}: {str(exc)[:300]}", label=ERROR_LABEL)


DIMENSIONS: tuple[str, ...] = ("resolution", "factual", "calibration", "adversarial", "compliance", "efficiency",
                               "safety")
ERROR_LABEL = "error"  # an evaluator that raised on a session: counted as an error, never as a pass


class EvaluatorBase:
    """What reports, gates, filters and the registry know of any evaluator, deterministic or judge."""

    id: str
    version: str = "1"
    dimension: Dimension
    hallucination_category: str | None = None
    kind: ClassVar[Literal["deterministic", "judge"]]
    description: str = ""
    source: str = "cstui"  # "cstui" for built-ins, else the plug-in that registered it
    graded: bool = False  # its score ranks sessions (a calibrated chance): `cstui validate` reports its ROC AUC

    def applies(self, session: Session, ctx: RunContext) -> str | None:
        """None if the evaluator judges this session, else the reason it does not."""
        return None


class Evaluator(EvaluatorBase):
    """A deterministic evaluator: a pure function of the session and the run context, run in a process pool."""

    kind: ClassVar[Literal["deterministic", "judge"]] = "deterministic"

    def check(self, session: Session, ctx: RunContext) -> Verdict:
        raise NotImplementedError(f"{type(self).__name__} defines no check")

    def evaluate(self, session: Session, ctx: RunContext) -> Verdict:
        """The verdict to store; an exception on one session becomes an error verdict rather than ending the run."""
        try:
            reason = self.applies(session, ctx)
            if reason is None:
                try:
                    return self.check(session, ctx)
                except NotApplicable as exc:
                    reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one evaluator must not stop a 100k-session run
            return Verdict.error(exc)
        return Verdict.not_applicable(reason)


class ShownTextEvaluator(Evaluator):
    """Judges what the assistant showed; sessions where nothing was shown are not applicable."""

    def applies(self, session: Session, ctx: RunContext) -> str | None:
        return None if has_shown_text(session) else "no assistant text shown"


# ---------------------------------------------------------------------------------------------- helpers
def has_shown_text(session: Session) -> bool:
    return bool(shown_assistant_turns(session))


T = TypeVar("T")


def per_session(fn: Callable[[Session], T]) -> Callable[[Session], T]:
    """Remember the result for the last session seen: a worker runs every evaluator on one session before the
    next, and several of them read the conversation the same way (the result is shared: do not mutate it)."""
    last: list[tuple[Session, T]] = []

    @wraps(fn)
    def wrapper(session: Session) -> T:
        hit = last[0] if last else None
        if hit is not None and hit[0] is session:
            return hit[1]
        value = fn(session)
        last[:] = [(session, value)]
        return value

    return wrapper


@per_session  # most evaluators ask, several times
def shown_assistant_turns(session: Session) -> tuple[tuple[int, Turn], ...]:
    """Assistant turns a customer or agent actually saw (not suppressed, not empty)."""
    return tuple((i, turn) for i, turn in enumerate(session.turns)
                 if turn.role == "assistant" and not turn.suppressed and turn.text.strip())


def snippet(text: str, start: int = 0, end: int | None = None, width: int = 160) -> str:
    """A short excerpt around [start, end) for evidence."""
    end = len(text) if end is None else end
    if end - start >= width:
        return text[start : start + width]
    pad = (width - (end - start)) // 2
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    return ("…" if lo > 0 else "") + text[lo:hi] + ("…" if hi < len(text) else "")


def is_draft_assist(session: Session) -> bool:
    system = (session.model_extra or {}).get("system")  # an extra field: getattr on a model without it raises
    return isinstance(system, dict) and system.get("kind") == "draft_assist"
