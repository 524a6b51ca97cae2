"""Stratified metrics with honest uncertainty (BRIEF §3.3 definitions hold exactly).

- Pass rates are over sessions where the evaluator applies (passed is not null).
- Intervals are Wilson 95%.
- ECE: 10 equal-width bins [0,0.1)…[0.9,1.0] (1.0 in the last), weighted by bin count.
- A session's confidence is the last assistant turn's; its correctness is the newest human label when
  one exists, else `outcome.correct`. Brier is the mean squared error of confidence vs correctness.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from cstui.store import Store

Z95 = 1.959963984540054
N_BINS = 10
TIERS = (1, 2, 3)


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for k successes in n trials; (None, None) when n is 0."""
    if n <= 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, center - half)  # exact at the ends, where float error would leak
    hi = 1.0 if k == n else min(1.0, center + half)
    return lo, hi


def rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(k, n)
    return {"value": (k / n) if n else None, "ci_low": lo, "ci_high": hi, "n": n, "k": k}


def confidence_bin(confidence: float) -> int:
    """Bin index for a confidence in [0, 1]: [0,0.1)→0 … [0.9,1.0]→9."""
    return min(int(confidence * N_BINS), N_BINS - 1)


def calibration(pairs: Iterable[tuple[float, bool]]) -> dict[str, Any]:
    """ECE, Brier and the reliability-diagram bins for (confidence, correct) pairs."""
    counts = [0] * N_BINS
    conf_sum = [0.0] * N_BINS
    correct_sum = [0] * N_BINS
    sq_err = 0.0
    n = 0
    for conf, correct in pairs:
        b = confidence_bin(conf)
        counts[b] += 1
        conf_sum[b] += conf
        correct_sum[b] += int(correct)
        sq_err += (conf - int(correct)) ** 2
        n += 1
    bins = []
    ece = 0.0
    for b in range(N_BINS):
        mean_conf = conf_sum[b] / counts[b] if counts[b] else None
        acc = correct_sum[b] / counts[b] if counts[b] else None
        if counts[b]:
            ece += counts[b] / n * abs(mean_conf - acc)  # type: ignore[operator]
        bins.append({"lo": b / N_BINS, "hi": (b + 1) / N_BINS, "n": counts[b], "confidence": mean_conf,
                     "accuracy": acc})
    return {"ece": ece if n else None, "brier": sq_err / n if n else None, "n": n, "bins": bins}


def _tier_key(tier: Any) -> str:
    return f"tier_{tier}" if tier in TIERS else "tier_unknown"


def _calibration_pairs(df: pl.DataFrame) -> list[tuple[float, bool]]:
    import polars as pl

    sub = df.filter(
        pl.col("confidence").is_not_null() & pl.col("correct").is_not_null()
        & (pl.col("confidence") >= 0) & (pl.col("confidence") <= 1)
    )
    return list(zip(sub["confidence"].to_list(), sub["correct"].to_list(), strict=True))


def _percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    values = sorted(values)
    pos = (len(values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def session_block(df: pl.DataFrame) -> dict[str, Any]:
    """n, resolution rate and escalation rate of a set of sessions."""
    n = df.height
    resolved = df["resolved"].drop_nulls()
    return {
        "n": n,
        "resolution_rate": rate(int(resolved.sum()), resolved.len()),
        "escalation_rate": rate(int(df["escalated"].sum()), n),
        "correct_rate": rate(int(df["correct"].drop_nulls().sum()), df["correct"].drop_nulls().len()),
    }


def evaluator_block(results: pl.DataFrame, sessions: pl.DataFrame) -> dict[str, Any]:
    """Per evaluator: pass rate over applicable sessions, overall and by tier."""
    import polars as pl

    if results.is_empty():
        return {}
    joined = results.join(sessions.select("sid", "tier"), on="sid", how="left")
    applicable = joined.filter(pl.col("passed").is_not_null())
    out: dict[str, Any] = {}
    overall = applicable.group_by("evaluator").agg(n=pl.len(), k=pl.col("passed").sum())
    by_tier = applicable.group_by("evaluator", "tier").agg(n=pl.len(), k=pl.col("passed").sum())
    totals = joined.group_by("evaluator").agg(n_total=pl.len(), version=pl.col("evaluator_version").max())
    for row in totals.sort("evaluator").iter_rows(named=True):
        out[row["evaluator"]] = {"n": 0, "k": 0, "pass_rate": None, "ci_low": None, "ci_high": None,
                                 "n_not_applicable": row["n_total"], "version": row["version"], "by_tier": {}}
    for row in overall.iter_rows(named=True):
        lo, hi = wilson_interval(row["k"], row["n"])
        out[row["evaluator"]].update(n=row["n"], k=row["k"], pass_rate=row["k"] / row["n"], ci_low=lo, ci_high=hi,
                                     n_not_applicable=out[row["evaluator"]]["n_not_applicable"] - row["n"])
    for row in by_tier.sort("tier").iter_rows(named=True):
        lo, hi = wilson_interval(row["k"], row["n"])
        out[row["evaluator"]]["by_tier"][_tier_key(row["tier"])] = {
            "n": row["n"], "k": row["k"], "pass_rate": row["k"] / row["n"], "ci_low": lo, "ci_high": hi}
    return out


def build_report(store: Store, run: str, by: str = "tier") -> dict[str, Any]:
    import polars as pl

    sessions = store.sessions_frame(run)
    results = store.results_frame(run)
    report: dict[str, Any] = {"run": run, "n_sessions": sessions.height, "by": by}
    report["overall"] = session_block(sessions)
    report["tiers"] = {
        _tier_key(t): session_block(sessions.filter(pl.col("tier") == t)) for t in TIERS
    }
    unknown = sessions.filter(pl.col("tier").is_null() | ~pl.col("tier").is_in(list(TIERS)))
    if unknown.height:
        report["tiers"]["tier_unknown"] = session_block(unknown)
    strata: dict[str, Any] = {}
    for key in sorted(sessions[by].drop_nulls().unique().to_list()):
        strata[str(key)] = session_block(sessions.filter(pl.col(by) == key))
    report["strata"] = {by: strata}
    report["evaluators"] = evaluator_block(results, sessions)

    report["calibration"] = {
        "overall": calibration(_calibration_pairs(sessions)),
        "by_tier": {_tier_key(t): calibration(_calibration_pairs(sessions.filter(pl.col("tier") == t)))
                    for t in TIERS},
    }
    turns_to_esc = [t + 1 for t in sessions["escalation_turn"].drop_nulls().to_list()]
    report["escalation"] = {
        "rate": session_block(sessions)["escalation_rate"]["value"],
        "n_escalated": int(sessions["escalated"].sum()),
        "time_to_escalation_turns": {
            "p50": _percentile(turns_to_esc, 0.5), "p90": _percentile(turns_to_esc, 0.9), "n": len(turns_to_esc)},
    }
    report["hallucination_by_category"] = hallucination_by_category(report["evaluators"])
    return report


def hallucination_by_category(evaluators: dict[str, Any]) -> dict[str, Any]:
    """Failure rate of each hallucination category, from the evaluators that detect it."""
    from cstui.evaluators import registry

    out: dict[str, Any] = {}
    for ev in registry.all_evaluators():
        category = getattr(ev, "hallucination_category", None)
        block = evaluators.get(ev.id)
        if not category or not block or not block["n"]:
            continue
        entry = out.setdefault(category, {"n": 0, "failed": 0, "evaluators": []})
        entry["n"] = max(entry["n"], block["n"])
        entry["failed"] = max(entry["failed"], block["n"] - block["k"])
        entry["evaluators"].append(ev.id)
    for entry in out.values():
        entry["rate"] = entry["failed"] / entry["n"] if entry["n"] else None
    return out
