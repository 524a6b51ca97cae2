"""Stratified metrics with honest uncertainty (the definitions of docs/metrics.md hold exactly).

- Pass rates are over sessions where the evaluator applies (passed is not null).
- Intervals are Wilson 95%.
- ECE: 10 equal-width bins [0,0.1)…[0.9,1.0] (1.0 in the last), weighted by bin count.
- A session's confidence is the last assistant turn's; its correctness is the newest human label when
  one exists, else `outcome.correct`. Brier is the mean squared error of confidence vs correctness.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from cstui.stats import (  # noqa: F401 - re-exported: the metric primitives live in cstui.stats
    N_BINS,
    TIERS,
    Z95,
    confidence_bin,
    min_n_to_demonstrate,
    percentile,
    rate,
    sample_size_warning,
    tier_key,
    wilson_interval,
)
from cstui.tally import (  # noqa: F401 - calibration re-exported beside the primitives
    CalibrationTally,
    EscalationTally,
    EvaluatorCounts,
    SessionCounts,
    any_bit,
    calibration,
    percentile_of_counts,
)

if TYPE_CHECKING:
    import polars as pl

    from cstui.gates import GateConfig, GateData
    from cstui.report_models import Report
    from cstui.store import Store
    from cstui.store.chunks import VerdictBit


def time_to_escalation(histogram: Counter[int]) -> dict[str, Any]:
    """Turns until the handoff (1-based turn number of the first escalation; counts per turn), p50/p90."""
    return {"p50": percentile_of_counts(histogram, 0.5), "p90": percentile_of_counts(histogram, 0.9),
            "n": sum(histogram.values()), "histogram": [{"turns": t, "n": histogram[t]} for t in sorted(histogram)]}


def _valid_confidence(frame: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    return frame.filter(pl.col("confidence").is_not_null() & (pl.col("confidence") >= 0) & (pl.col("confidence") <= 1))


class ReportScan:
    """What one pass over a run's chunks gathers for its report; memory is the tallies (counts per tier and
    stratum, per distinct confidence), never the sessions."""

    def __init__(self, by: str, bits: dict[str, VerdictBit], watched_ids: set[str], sample_keys: list[str]) -> None:
        from cstui.evaluators import registry

        self.by, self.bits = by, bits
        self.keys = ["tier"] + ([by] if by != "tier" else [])
        self.sessions: dict[tuple[Any, ...], SessionCounts] = {}
        self.calibrations: dict[tuple[Any, ...], CalibrationTally] = {}
        self.escalation = EscalationTally()
        self.turns: Counter[int] = Counter()
        self.evaluators = EvaluatorCounts(bits, by)
        self.categories: dict[str, list[str]] = {}
        for evaluator, category in registry.hallucination_categories().items():
            self.categories.setdefault(category, []).append(evaluator)
        self.category_counts: dict[str, list[int]] = {c: [0, 0] for c in self.categories}
        self.watched_ids = watched_ids  # labelled sessions, kept aside for judge-human alignment
        self.watched: list[pl.DataFrame] = []
        self.sample_keys = sample_keys
        self.composition: Counter[str] = Counter()

    def add(self, chunk: pl.DataFrame) -> None:
        import polars as pl

        for row in chunk.group_by(*self.keys, "resolved", "escalated", "correct").len().iter_rows():
            *key, resolved, escalated, correct, n = row
            self.sessions.setdefault(tuple(key), SessionCounts()).add(resolved, escalated, correct, n)
        valid = _valid_confidence(chunk.select(*self.keys, "confidence", "correct", "escalated"))
        for *key, conf, correct, n in (valid.filter(pl.col("correct").is_not_null())
                                       .group_by(*self.keys, "confidence", "correct").len().iter_rows()):
            self.calibrations.setdefault(tuple(key), CalibrationTally()).add(conf, correct, n)
        for conf, escalated, n in valid.group_by("confidence", "escalated").len().iter_rows():
            self.escalation.add(conf, escalated, n)
        for turn, n in chunk.group_by("escalation_turn").len().iter_rows():
            if turn is not None:
                self.turns[turn + 1] += n
        self.evaluators.add_chunk(chunk)
        self._add_categories(chunk)
        if self.watched_ids:
            self.watched.append(chunk.filter(pl.col("session_id").is_in(list(self.watched_ids))))
        if self.sample_keys:
            label = pl.concat_str([pl.col(k).cast(pl.Utf8).fill_null("—") for k in self.sample_keys], separator=" / ")
            for stratum, n in chunk.select(label.alias("stratum")).group_by("stratum").len().iter_rows():
                self.composition[stratum] += n

    def _add_categories(self, chunk: pl.DataFrame) -> None:
        chosen = {c: [self.bits[e] for e in evs if e in self.bits] for c, evs in self.categories.items()}
        exprs = [e for c, bits in chosen.items() if bits
                 for e in (any_bit(bits).sum().alias(f"n:{c}"), any_bit(bits, failed=True).sum().alias(f"f:{c}"))]
        if not exprs:
            return
        row = chunk.select(exprs).row(0, named=True)
        for c, bits in chosen.items():
            if bits:
                self.category_counts[c][0] += row[f"n:{c}"]
                self.category_counts[c][1] += row[f"f:{c}"]

    # -------------------------------------------------------------- the document's parts
    def sessions_where(self, tier: Any = ..., value: Any = ...) -> SessionCounts:
        out = SessionCounts()
        for key, counts in self.sessions.items():
            if (tier is ... or key[0] in tier) and (value is ... or key[-1] == value):
                out.merge(counts)
        return out

    def calibration_where(self, tier: Any = ..., value: Any = ...) -> dict[str, Any]:
        out = CalibrationTally()
        for key, tally in self.calibrations.items():
            if (tier is ... or key[0] in tier) and (value is ... or key[-1] == value):
                out.merge(tally)
        return out.result()

    def by_values(self) -> list[Any]:
        return sorted({key[-1] for key in self.sessions if key[-1] is not None})

    def evaluator_block(self) -> dict[str, Any]:
        """Per evaluator: pass rate over applicable sessions, overall, by tier (and by another stratum)."""
        out: dict[str, Any] = {}
        other = self.by != "tier"
        tiers = sorted({k[0] for k in self.evaluators.groups}, key=lambda t: t or 99)
        values = sorted({k[-1] for k in self.evaluators.groups if k[-1] is not None}, key=str) if other else []
        for i, name in sorted(enumerate(self.bits), key=lambda iv: iv[1]):
            present, n, k, human = self.evaluators.totals(i)
            if not present:
                continue
            entry = _rate_entry(k, n)
            out[name] = {**entry, "n_not_applicable": present - n, "version": self.bits[name].version,
                         "n_human_labels": human, "by_tier": {}}
            for tier in tiers:
                _, n, k, _ = self.evaluators.totals(i, [g for g in self.evaluators.groups if g[0] == tier])
                if n:
                    out[name]["by_tier"][tier_key(tier)] = _rate_entry(k, n)
            if other:
                out[name][f"by_{self.by}"] = {}
                for value in values:
                    _, n, k, _ = self.evaluators.totals(i, [g for g in self.evaluators.groups if g[-1] == value])
                    if n:
                        out[name][f"by_{self.by}"][str(value)] = _rate_entry(k, n)
        return out

    def hallucination_by_category(self) -> dict[str, Any]:
        """Per hallucination category: sessions where any of its evaluators failed, over those where one applied."""
        out: dict[str, Any] = {}
        for category in sorted(self.categories):
            n, failed = self.category_counts[category]
            if not n:
                continue
            lo, hi = wilson_interval(failed, n)
            out[category] = {"n": n, "failed": failed, "rate": failed / n, "ci_low": lo, "ci_high": hi,
                             "evaluators": sorted(self.categories[category])}
        return out


def _rate_entry(k: int, n: int) -> dict[str, Any]:
    """An evaluator's pass rate in the report's shape (`pass_rate` where a session rate says `value`)."""
    r = rate(k, n)
    return {"n": n, "k": k, "pass_rate": r["value"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}


def build_report(store: Store, run: str, by: str = "tier") -> Report:
    """The `cstui report` document, from one bounded pass over the run (docs/scale.md)."""
    from cstui.gates import GateData, GateScan, load_gates
    from cstui.online import online_metrics
    from cstui.report_models import Report

    bits = store.verdict_bits(run)
    meta = store.run(run).get("metadata")
    sample = orjson_loads(meta).get("sample") if meta else None
    scan = ReportScan(by, bits, store.labeled_session_ids(run), (sample or {}).get("by") or [])
    cfg = load_gates()
    gate_data = GateData(run=run, evaluators_seen=set(bits), golden_ids=store.golden_session_ids())
    gate_scan = GateScan(cfg, gate_data, bits, keep_ids=False)  # for the sample-size warnings: counts only
    for chunk in store.run_chunks(run):
        scan.add(chunk)
        gate_scan.add(chunk)
        del chunk  # not held while the next one is read: one chunk in memory, not two
    overall = scan.sessions_where()
    report: dict[str, Any] = {"run": run, "n_sessions": overall.n, "by": by, "overall": overall.block()}
    report["tiers"] = {tier_key(t): scan.sessions_where(tier=(t,)).block() for t in TIERS}
    unknown = scan.sessions_where(tier=tuple({k[0] for k in scan.sessions} - set(TIERS)))
    if unknown.n:
        report["tiers"]["tier_unknown"] = unknown.block()
    evaluators = scan.evaluator_block()
    strata: dict[str, Any] = {}
    for key in scan.by_values():
        name = tier_key(key) if by == "tier" else str(key)
        where = {"tier": (key,)} if by == "tier" else {"value": key}
        strata[name] = {
            **scan.sessions_where(**where).block(),
            "calibration": scan.calibration_where(**where),
            "evaluators": {ev: block[f"by_{by}"].get(name if by == "tier" else str(key))
                           for ev, block in evaluators.items()
                           if block[f"by_{by}"].get(name if by == "tier" else str(key))},
        }
    report["strata"] = {by: strata}
    from cstui.validation import trust

    for name, validated in trust(store, run, {ev: block["version"] for ev, block in evaluators.items()}).items():
        evaluators[name]["validated"] = validated
    report["evaluators"] = evaluators
    report["calibration"] = {"overall": scan.calibration_where(),
                             "by_tier": {tier_key(t): scan.calibration_where(tier=(t,)) for t in TIERS}}
    report["escalation"] = {
        "rate": report["overall"]["escalation_rate"]["value"],
        "ci_low": report["overall"]["escalation_rate"]["ci_low"],
        "ci_high": report["overall"]["escalation_rate"]["ci_high"],
        "n_escalated": overall.escalated,
        "time_to_escalation_turns": time_to_escalation(scan.turns),
        "by_confidence": scan.escalation.result(),
    }
    report["hallucination_by_category"] = scan.hallucination_by_category()
    report["draft_assist"] = online_metrics(store.drafts_frame(run))
    report["judges"] = judge_costs(store, run)
    report["alignment"] = _alignment(store, run, scan)
    report["warnings"] = _gate_sample_size_warnings(cfg, gate_data)
    report["composition"] = composition(sample, overall.n, scan.composition)
    report["dissatisfaction"] = dissatisfaction(store, run, (evaluators.get(DISSATISFACTION_EVALUATOR) or {}).get(
        "version"))
    return Report.model_validate(report)


# The graded evaluator whose calibrated score estimates how many customers were dissatisfied (docs/metrics.md).
DISSATISFACTION_EVALUATOR = "frustration"


def dissatisfaction(store: Store, run: str, version: str | None,
                    evaluator: str = DISSATISFACTION_EVALUATOR) -> dict[str, Any] | None:
    """Estimated share of sessions whose customer was dissatisfied, per tier: the mean of the evaluator's calibrated
    chance, with a 95% interval (sampling only), and the held-out validation figure it rests on. None when the run
    has no scores from it. A number no run records (CSAT) read off the conversations — an estimate, not a survey."""
    from cstui.stats import mean_interval
    from cstui.validation import shipped_summary

    moments = store.score_moments(run, evaluator, per="tier")
    if not moments:
        return None
    n, total, squares = (sum(m[i] for m in moments.values()) for i in range(3))
    shipped = shipped_summary().get("evaluators", {}).get(evaluator) or {}
    return {
        "evaluator": evaluator, "version": version,
        "overall": mean_interval(int(n), total, squares),
        "tiers": {tier_key(t): mean_interval(*moments[t]) for t in sorted(moments, key=lambda t: (t is None, t))},
        "rests_on": {"real_customers": (shipped.get("by_corpus") or {}).get("maia/held-out", {}).get("ranking"),
                     "ranking": shipped.get("ranking"), "precision": shipped.get("precision"),
                     "version": shipped.get("version"), "source": "held-out validation set" if shipped else None,
                     "stale": bool(shipped) and shipped.get("version") != version},
    }


def composition(sample: dict[str, Any] | None, n: int, counts: Counter[str]) -> dict[str, Any] | None:
    """For a sampled slice: its mix per stratum against the target it was drawn for (a biased slice shows)."""
    if not sample:
        return None
    keys = sample["by"] or []
    if not keys:
        return {"from": sample["from"], "by": [], "strata": {"all": {"n": n, "share": 1.0, "target": None}}}
    target = sample.get("target") or {}
    strata = {key: {"n": counts[key], "share": counts[key] / n, "target": target.get(key)} for key in sorted(counts)}
    for key, share in target.items():
        strata.setdefault(key, {"n": 0, "share": 0.0, "target": share})
    return {"from": sample["from"], "by": keys, "seed": sample.get("seed"), "strata": strata}


def orjson_loads(text: str) -> dict[str, Any]:
    import orjson

    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


def judge_costs(store: Store, run: str) -> dict[str, Any]:
    """Per judge evaluator (current verdicts): calls, tokens and cost from the stored judge transcripts."""
    from cstui.evaluators import registry
    from cstui.evaluators.base import ERROR_LABEL

    out: dict[str, Any] = {}
    for evaluator, detail, label in store.judge_details(run, [ev.id for ev in registry.all_evaluators("judge")]):
        entry = out.setdefault(evaluator, {"n": 0, "errors": 0, "calls": 0, "cached_calls": 0, "prompt_tokens": 0,
                                           "completion_tokens": 0, "cost_usd": 0.0, "models": []})
        entry["n"] += 1
        entry["errors"] += label in (ERROR_LABEL, "judge_error")  # the second: files from before one label
        if detail is None:
            continue
        if detail.get("model") and detail["model"] not in entry["models"]:
            entry["models"].append(detail["model"])
        for step in detail.get("steps", []):
            entry["calls"] += 1
            entry["cached_calls"] += bool(step.get("cached"))
            entry["prompt_tokens"] += step.get("prompt_tokens") or 0
            entry["completion_tokens"] += step.get("completion_tokens") or 0
            entry["cost_usd"] += step.get("cost_usd") or 0.0
    return out


def _alignment(store: Store, run: str, scan: ReportScan) -> dict[str, Any]:
    """Judge-human agreement over the labelled sessions the scan kept aside (few: reviewers label by hand)."""
    import polars as pl

    from cstui.agreement import alignment
    from cstui.evaluators import registry

    judge_ids = {ev.id for ev in registry.all_evaluators("judge")}
    if not scan.watched:
        return {}
    sessions = pl.concat(scan.watched)
    results = machine_verdicts(sessions, scan.bits)
    return alignment(results, sessions, store.labels(run), judge_ids)


def machine_verdicts(chunk: pl.DataFrame, bits: dict[str, VerdictBit]) -> pl.DataFrame:
    """One row per (session, evaluator) with a verdict: sid, evaluator, machine_passed (None: not applicable)."""
    import polars as pl

    parts = [chunk.filter((pl.col(f"p{b.word}") & b.mask) != 0).select(
        "sid", evaluator=pl.lit(name), machine_passed=pl.when((pl.col(f"ma{b.word}") & b.mask) != 0)
        .then((pl.col(f"mf{b.word}") & b.mask) == 0).otherwise(None)) for name, b in bits.items()]
    schema = {"sid": pl.Int64, "evaluator": pl.Utf8, "machine_passed": pl.Boolean}
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def _gate_sample_size_warnings(cfg: GateConfig, data: GateData) -> list[dict[str, Any]]:
    """Where the default gate's thresholds meet too few sessions to mean anything (e.g. 99% on 41)."""
    from cstui.gates import evaluate_rule

    out = []
    for rule in cfg.rules:
        for entry in evaluate_rule(rule, data, cfg):
            for warning in entry["warnings"]:
                out.append({"rule": entry["name"], "n": entry["n"], "threshold": entry["threshold"],
                            "message": warning})
    return out
