"""Typed report and gate documents: built once by cstui.metrics and cstui.gates, read by the terminal output,
the dashboard and compare, and dumped unchanged by `--json` (the shapes: docs/metrics.md, "report --json").

A model validated from the builders' values remembers which keys were given, so `to_json()` writes exactly
those: a key that is absent today (e.g. `validated` for an evaluator nobody measured) stays absent.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: the keys the builder gave, nothing added."""
        return self.model_dump(mode="json", exclude_unset=True)


class Rate(Document):
    """k of n with its Wilson 95% interval (value None when n is 0)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    k: int


class PassRate(Document):
    """An evaluator's pass rate over the sessions it applies to (`pass_rate` where a Rate says `value`)."""

    n: int
    k: int
    pass_rate: float | None
    ci_low: float | None
    ci_high: float | None


class CalibrationBin(Document):
    lo: float
    hi: float
    n: int
    confidence: float | None
    accuracy: float | None


class Calibration(Document):
    """ECE, Brier and the reliability bins over sessions with both a confidence and a known correctness."""

    ece: float | None
    brier: float | None
    n: int
    mean_confidence: float | None
    accuracy: float | None
    overconfidence: float | None
    bins: list[CalibrationBin]


class SessionBlock(Document):
    """Headline rates of a set of sessions (overall, a tier, a stratum)."""

    n: int
    resolution_rate: Rate
    escalation_rate: Rate
    correct_rate: Rate
    containment: Rate | None = None
    contained_unresolved: Rate | None = None


class Stratum(SessionBlock):
    calibration: Calibration
    evaluators: dict[str, PassRate]


class EvaluatorSummary(PassRate):
    """Per evaluator; `by_<stratum>` (e.g. `by_intent`) is added beside `by_tier` when the report is by another
    stratum, hence extra keys are allowed here and only here."""

    model_config = ConfigDict(extra="allow")

    n_not_applicable: int
    version: str | None
    n_human_labels: int
    by_tier: dict[str, PassRate]
    validated: dict[str, Any] | None = None

    def by(self, stratum: str) -> dict[str, PassRate]:
        """Pass rates per value of a stratum ("tier", "intent", …)."""
        if stratum == "tier":
            return self.by_tier
        raw = (self.model_extra or {}).get(f"by_{stratum}") or {}
        return {k: v if isinstance(v, PassRate) else PassRate.model_validate(v) for k, v in raw.items()}


class CalibrationSet(Document):
    overall: Calibration
    by_tier: dict[str, Calibration]


class EscalationBin(Document):
    lo: float
    hi: float
    n: int
    escalated: int
    value: float | None
    ci_low: float | None
    ci_high: float | None


class EscalationByConfidence(Document):
    n: int
    spearman: float | None
    bins: list[EscalationBin]


class TurnCount(Document):
    turns: int
    n: int


class TimeToEscalation(Document):
    p50: float | None
    p90: float | None
    n: int
    histogram: list[TurnCount]


class Escalation(Document):
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    n_escalated: int
    time_to_escalation_turns: TimeToEscalation
    by_confidence: EscalationByConfidence


class HallucinationCategory(Document):
    n: int
    failed: int
    rate: float
    ci_low: float | None
    ci_high: float | None
    evaluators: list[str]


class JudgeCost(Document):
    n: int
    errors: int
    calls: int
    cached_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    models: list[str]


class SampleSizeWarning(Document):
    rule: str
    n: int
    threshold: float
    message: str


class Report(Document):
    """`cstui report --json`. `draft_assist`, `alignment` and `composition` are appendices with their own
    shapes (docs/formats.md) kept as plain mappings."""

    run: str
    n_sessions: int
    by: str
    overall: SessionBlock
    tiers: dict[str, SessionBlock]
    strata: dict[str, dict[str, Stratum]]
    evaluators: dict[str, EvaluatorSummary]
    calibration: CalibrationSet
    escalation: Escalation
    hallucination_by_category: dict[str, HallucinationCategory]
    draft_assist: dict[str, Any] | None
    judges: dict[str, JudgeCost]
    alignment: dict[str, Any]
    warnings: list[SampleSizeWarning]
    composition: dict[str, Any] | None
    dissatisfaction: dict[str, Any] | None = None  # estimated share of dissatisfied customers (docs/metrics.md)


class BaselineComparison(Document):
    """A rule's pass rate on the baseline run; `drop` is baseline minus candidate (positive = worse)."""

    run: str
    n: int
    k: int | None = None
    observed: float | None
    drop: float | None
    p_value: float | None
    regressed: bool


class RuleResult(Document):
    """One gate rule (or one stratum of a `per` rule) on one run."""

    name: str
    rule: str
    title: str
    metric: str
    threshold: float
    comparison: str
    use: str
    on_fail: str
    blocking: bool
    filter: dict[str, list[Any]]
    observed: float | None
    compared_value: float | None
    n: int
    k: int | None
    ci_low: float | None
    ci_high: float | None
    passed: bool | None
    warnings: list[str]
    failing_sessions: list[str]
    baseline: BaselineComparison | None
    flipped: list[str]
    status: str
    message: str
    # no data because every evaluator it needs is an LLM judge and none is configured: N/A even under --strict
    needs_judge: bool = False


class GateResult(Document):
    """`cstui gate --json`: `failed` are the blocking rules that failed, `advisories` the others."""

    run: str
    baseline: str | None
    gate_file: str | None
    strict: bool
    passed: bool
    n_rules: int
    failed: list[str]
    advisories: list[str]
    no_data: list[str]
    rules: list[RuleResult]

    def rule(self, name: str) -> RuleResult:
        return next(r for r in self.rules if r.name == name)
