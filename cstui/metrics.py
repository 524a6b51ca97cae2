"""Stratified metrics with honest uncertainty (the definitions of docs/metrics.md hold exactly).

- Pass rates are over sessions where the evaluator applies (passed is not null).
- Intervals are Wilson 95%.
- ECE: 10 equal-width bins [0,0.1)…[0.9,1.0] (1.0 in the last), weighted by bin count.
- A session's confidence is the last assistant turn's; its correctness is the newest human label when
  one exists, else `outcome.correct`. Brier is the mean squared error of confidence vs correctness.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cstui.stats import (  # noqa: F401 - re-exported: the metric primitives live in cstui.stats
    N_BINS,
    TIERS,
    Z95,
    calibration,
    calibration_pairs,
    confidence_bin,
    min_n_to_demonstrate,
    percentile,
    rate,
    sample_size_warning,
    tier_key,
    wilson_interval,
)

if TYPE_CHECKING:
    import polars as pl

    from cstui.reports import Report
    from cstui.store import Store


def session_block(df: pl.DataFrame) -> dict[str, Any]:
    """n, resolution, escalation and correctness of a set of sessions, and the deflection gap: containment (ended
    without a handoff) beside contained-but-unresolved, which a system tuned never to escalate inflates and hides
    (docs/metrics.md)."""
    import polars as pl

    n = df.height
    known = df.filter(pl.col("resolved").is_not_null())
    resolved = known["resolved"]
    contained = int((~df["escalated"]).sum())
    contained_unresolved = int((~known["escalated"] & ~known["resolved"]).sum())
    return {
        "n": n,
        "resolution_rate": rate(int(resolved.sum()), resolved.len()),
        "escalation_rate": rate(int(df["escalated"].sum()), n),
        "correct_rate": rate(int(df["correct"].drop_nulls().sum()), df["correct"].drop_nulls().len()),
        "containment": rate(contained, n),
        "contained_unresolved": rate(contained_unresolved, known.height),
    }


def _rate_entry(k: int, n: int) -> dict[str, Any]:
    """An evaluator's pass rate in the report's shape (`pass_rate` where a session rate says `value`)."""
    r = rate(k, n)
    return {"n": n, "k": k, "pass_rate": r["value"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}


def _pass_counts(applicable: pl.LazyFrame, keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Pass counts over applicable verdicts, grouped by keys (evaluator first)."""
    import polars as pl

    counts = applicable.group_by(keys).agg(n=pl.len(), k=pl.col("passed").sum()).collect()
    return {tuple(row[:-2]): _rate_entry(int(row[-1]), int(row[-2])) for row in counts.iter_rows()}


def evaluator_block(results: pl.DataFrame, sessions: pl.DataFrame, by: str | None = None) -> dict[str, Any]:
    """Per evaluator: pass rate over applicable sessions, overall, by tier (and by another stratum). Lazy, and
    joined on the few columns the counts need, so a run's verdicts are not copied wide (memory, docs/scale.md)."""
    import polars as pl

    if results.is_empty():
        return {}
    cols = ["sid", "tier"] + ([by] if by and by != "tier" else [])
    totals = results.group_by("evaluator").agg(n_total=pl.len(), version=pl.col("evaluator_version").max(),
                                               n_human=pl.col("human_verdict").is_not_null().sum())
    applicable = (results.lazy().filter(pl.col("passed").is_not_null()).select("sid", "evaluator", "passed")
                  .join(sessions.lazy().select(cols), on="sid", how="left"))
    overall = _pass_counts(applicable, ["evaluator"])
    by_tier = _pass_counts(applicable, ["evaluator", "tier"])
    by_other = _pass_counts(applicable, ["evaluator", by]) if by and by != "tier" else {}
    out: dict[str, Any] = {}
    for name, n_total, version, n_human in totals.sort("evaluator").iter_rows():
        entry = overall.get((name,), _rate_entry(0, 0))
        out[name] = {**entry, "n_not_applicable": n_total - entry["n"], "version": version,
                     "n_human_labels": n_human, "by_tier": {}}
        if by and by != "tier":
            out[name][f"by_{by}"] = {}
    for (name, tier), entry in sorted(by_tier.items(), key=lambda kv: (kv[0][0], kv[0][1] or 99)):
        out[name]["by_tier"][tier_key(tier)] = entry
    for (name, key), entry in sorted(by_other.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        if key is not None:
            out[name][f"by_{by}"][str(key)] = entry
    return out


def escalation_vs_confidence(sessions: pl.DataFrame) -> dict[str, Any]:
    """Escalation rate per confidence bin and its Spearman rank correlation with confidence.

    A healthy system escalates more as confidence falls: the correlation should be negative.
    """
    import polars as pl

    sub = sessions.filter(pl.col("confidence").is_not_null() & (pl.col("confidence") >= 0)
                          & (pl.col("confidence") <= 1))
    bins = []
    if sub.height:
        counted = (sub.with_columns(bin=(pl.col("confidence") * N_BINS).floor().cast(pl.Int64).clip(0, N_BINS - 1))
                   .group_by("bin").agg(n=pl.len(), escalated=pl.col("escalated").sum()))
        by_bin = {row["bin"]: row for row in counted.iter_rows(named=True)}
    else:
        by_bin = {}
    for b in range(N_BINS):
        row = by_bin.get(b)
        n, esc = (row["n"], int(row["escalated"])) if row else (0, 0)
        bins.append({"lo": b / N_BINS, "hi": (b + 1) / N_BINS, "n": n, "escalated": esc,
                     **{k: v for k, v in rate(esc, n).items() if k in ("value", "ci_low", "ci_high")}})
    rho = None
    if sub.height >= 3 and sub["escalated"].n_unique() > 1 and sub["confidence"].n_unique() > 1:
        rho = sub.select(pl.corr(pl.col("confidence"), pl.col("escalated").cast(pl.Float64),
                                 method="spearman")).item()
        rho = None if rho is None or math.isnan(rho) else float(rho)
    return {"n": sub.height, "spearman": rho, "bins": bins}


def time_to_escalation(sessions: pl.DataFrame) -> dict[str, Any]:
    """Turns until the handoff (1-based turn number of the first escalation), p50/p90 and a histogram."""
    turns = [t + 1 for t in sessions["escalation_turn"].drop_nulls().to_list()]
    histogram: dict[int, int] = {}
    for t in turns:
        histogram[t] = histogram.get(t, 0) + 1
    return {"p50": percentile(turns, 0.5), "p90": percentile(turns, 0.9), "n": len(turns),
            "histogram": [{"turns": t, "n": histogram[t]} for t in sorted(histogram)]}


def hallucination_by_category(results: pl.DataFrame) -> dict[str, Any]:
    """Per hallucination category: sessions where any of its evaluators failed, over those where one applied."""
    import polars as pl

    from cstui.evaluators import registry

    by_category: dict[str, list[str]] = {}
    for evaluator, category in registry.hallucination_categories().items():
        by_category.setdefault(category, []).append(evaluator)
    out: dict[str, Any] = {}
    if results.is_empty():
        return out
    applicable = results.filter(pl.col("passed").is_not_null())
    for category in sorted(by_category):
        evaluators = sorted(by_category[category])
        sub = applicable.filter(pl.col("evaluator").is_in(evaluators))
        if sub.is_empty():
            continue
        if len(evaluators) > 1:  # a session counts once per category
            sub = sub.group_by("sid").agg(pl.col("passed").all())
        n, failed = sub.height, int((~sub["passed"]).sum())
        lo, hi = wilson_interval(failed, n)
        out[category] = {"n": n, "failed": failed, "rate": failed / n, "ci_low": lo, "ci_high": hi,
                         "evaluators": evaluators}
    return out


def build_report(store: Store, run: str, by: str = "tier", *, sessions: pl.DataFrame | None = None,
                 results: pl.DataFrame | None = None) -> Report:
    """The `cstui report` document; pass already-loaded frames to share them with a gate."""
    import polars as pl

    from cstui.online import online_metrics
    from cstui.reports import Report

    sessions = store.sessions_frame(run) if sessions is None else sessions
    results = store.results_frame(run) if results is None else results
    report: dict[str, Any] = {"run": run, "n_sessions": sessions.height, "by": by}
    report["overall"] = session_block(sessions)
    report["tiers"] = {tier_key(t): session_block(sessions.filter(pl.col("tier") == t)) for t in TIERS}
    unknown = sessions.filter(pl.col("tier").is_null() | ~pl.col("tier").is_in(list(TIERS)))
    if unknown.height:
        report["tiers"]["tier_unknown"] = session_block(unknown)
    evaluators = evaluator_block(results, sessions, by)
    strata: dict[str, Any] = {}
    for key in sorted(sessions[by].drop_nulls().unique().to_list()):
        subset = sessions.filter(pl.col(by) == key)
        name = tier_key(key) if by == "tier" else str(key)
        cal = calibration(calibration_pairs(subset))
        strata[name] = {
            **session_block(subset),
            "calibration": cal,
            "evaluators": {ev: block[f"by_{by}"].get(name if by == "tier" else str(key))
                           for ev, block in evaluators.items()
                           if block[f"by_{by}"].get(name if by == "tier" else str(key))},
        }
    report["strata"] = {by: strata}
    from cstui.validation import trust

    for name, validated in trust(store, run, {ev: block["version"] for ev, block in evaluators.items()}).items():
        evaluators[name]["validated"] = validated
    report["evaluators"] = evaluators
    report["calibration"] = {
        "overall": calibration(calibration_pairs(sessions)),
        "by_tier": {tier_key(t): calibration(calibration_pairs(sessions.filter(pl.col("tier") == t)))
                    for t in TIERS},
    }
    report["escalation"] = {
        "rate": report["overall"]["escalation_rate"]["value"],
        "ci_low": report["overall"]["escalation_rate"]["ci_low"],
        "ci_high": report["overall"]["escalation_rate"]["ci_high"],
        "n_escalated": int(sessions["escalated"].sum()),
        "time_to_escalation_turns": time_to_escalation(sessions),
        "by_confidence": escalation_vs_confidence(sessions),
    }
    report["hallucination_by_category"] = hallucination_by_category(results)
    report["draft_assist"] = online_metrics(store.drafts_frame(run))
    report["judges"] = judge_costs(store, run)
    report["alignment"] = _alignment(store, run, results, sessions)
    report["warnings"] = _gate_sample_size_warnings(run, sessions, results)
    report["composition"] = composition(store, run, sessions)
    return Report.model_validate(report)


def composition(store: Store, run: str, sessions: pl.DataFrame) -> dict[str, Any] | None:
    """For a sampled slice: its mix per stratum against the target it was drawn for (a biased slice shows)."""
    import polars as pl

    meta = store.run(run).get("metadata")
    sample = orjson_loads(meta).get("sample") if meta else None
    if not sample:
        return None
    keys = sample["by"] or []
    n = sessions.height
    if not keys:
        return {"from": sample["from"], "by": [], "strata": {"all": {"n": n, "share": 1.0, "target": None}}}
    label = pl.concat_str([pl.col(k).cast(pl.Utf8).fill_null("—") for k in keys], separator=" / ")
    counts = sessions.select(label.alias("stratum")).group_by("stratum").len().sort("stratum")
    target = sample.get("target") or {}
    strata = {row[0]: {"n": row[1], "share": row[1] / n, "target": target.get(row[0])} for row in counts.iter_rows()}
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

    out: dict[str, Any] = {}
    for evaluator, detail, label in store.judge_details(run, [ev.id for ev in registry.all_evaluators("judge")]):
        entry = out.setdefault(evaluator, {"n": 0, "errors": 0, "calls": 0, "cached_calls": 0, "prompt_tokens": 0,
                                           "completion_tokens": 0, "cost_usd": 0.0, "models": []})
        entry["n"] += 1
        entry["errors"] += label == "judge_error"
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


def _alignment(store: Store, run: str, results: pl.DataFrame, sessions: pl.DataFrame) -> dict[str, Any]:
    from cstui.agreement import alignment
    from cstui.evaluators import registry

    judge_ids = {ev.id for ev in registry.all_evaluators("judge")}
    return alignment(results, sessions, store.labels(run), judge_ids)


def _gate_sample_size_warnings(run: str, sessions: pl.DataFrame, results: pl.DataFrame) -> list[dict[str, Any]]:
    """Where the default gate's thresholds meet too few sessions to mean anything (e.g. 99% on 41)."""
    from cstui.gates import Frames, GateConfig, evaluate_rule, load_gates

    cfg: GateConfig = load_gates()
    frames = Frames(run=run, sessions=sessions, results=results,
                    evaluators_seen=set(results["evaluator"].unique().to_list()))
    out = []
    for rule in cfg.rules:
        for entry in evaluate_rule(rule, frames, cfg):
            for warning in entry["warnings"]:
                out.append({"rule": entry["name"], "n": entry["n"], "threshold": entry["threshold"],
                            "message": warning})
    return out
