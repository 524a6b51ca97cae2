"""Draft-assist online metrics per day, and the alert rules of docs/metrics.md evaluated over them.

Definitions (documented in the README):
- accept rate = accepted / drafts; reject rate = rejected / drafts (edited counts in neither);
- edit distance = mean normalized Levenshtein draft→sent over drafts that were sent (accepted or edited);
- latency p95 over drafts with a latency; cost per draft = mean cost over drafts with a cost;
- escalation rate = escalated sessions / draft-assist sessions;
- the escalation baseline is the rate over the first 7 days of the series.
Weekly rules use a trailing 7-calendar-day window and only fire once a full window exists. A day (or
window) with fewer than MIN_DRAFTS drafts is shown but never alerted on: 2 rejects out of 3 is noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

WEEK = 7
MIN_DRAFTS = 20


@dataclass(frozen=True)
class AlertRule:
    name: str
    metric: str
    op: str  # ">" or "<"
    threshold: float
    target: str  # the healthy level, for the message
    consecutive_days: int = 1
    window_days: int = 1  # >1: the trailing window's value is compared (mean, or sum for counts)
    relative_to_baseline: bool = False

    def describe(self) -> str:
        level = f"baseline + {self.threshold:g}" if self.relative_to_baseline else f"{self.threshold:g}"
        if self.window_days > 1:
            return f"{self.metric} over {self.window_days} days {self.op} {level}"
        days = f" for {self.consecutive_days} consecutive days" if self.consecutive_days > 1 else ""
        return f"{self.metric} {self.op} {level}{days}"


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule("accept_rate_low", "accept_rate", "<", 0.65, "> 75%", consecutive_days=3),
    AlertRule("reject_rate_high", "reject_rate", ">", 0.10, "< 5%", consecutive_days=2),
    AlertRule("edit_distance_high", "edit_distance", ">", 0.35, "< 0.2", window_days=WEEK),
    AlertRule("escalation_rate_up", "escalation_rate", ">", 0.05, "baseline ± 2%", window_days=WEEK,
              relative_to_baseline=True),
    AlertRule("latency_p95_high", "latency_p95_ms", ">", 6000, "< 4000 ms"),
    AlertRule("hallucination_reported", "hallucination_reports", ">", 0, "0 per week", window_days=WEEK),
    AlertRule("cost_per_draft_high", "cost_per_draft", ">", 0.05, "< $0.03"),
)


def _aggregates() -> list[pl.Expr]:
    """The per-group figures behind `_summary`, as polars aggregations (a day's or a run's drafts are never
    copied into Python lists: a million drafts' latencies took tens of megabytes)."""
    import polars as pl

    return [pl.len().alias("n"), *((pl.col("decision") == d).sum().alias(d) for d in ("accepted", "rejected", "edited")),
            pl.col("edit_distance").mean(),  # over drafts that were sent: the others have none
            pl.col("latency_ms").quantile(0.95, "linear").alias("latency_p95_ms"),  # = the (n-1)·0.95 interpolation
            pl.col("cost_usd").mean(), pl.col("handle_time_s").mean(),
            pl.col("escalated").mean().alias("escalation_rate"), pl.col("escalated").sum().alias("n_escalated"),
            pl.col("hallucination_report").fill_null(0).sum().alias("hallucination_reports")]


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    """A group's figures (see the module docstring) from its `_aggregates` row."""
    n = row["n"]
    return {
        "n_drafts": n,
        "accept_rate": row["accepted"] / n if n else None,
        "reject_rate": row["rejected"] / n if n else None,
        "edit_rate": row["edited"] / n if n else None,
        "edit_distance": row["edit_distance"],
        "latency_p95_ms": row["latency_p95_ms"],
        "cost_per_draft": row["cost_usd"],
        "handle_time_s": row["handle_time_s"],
        "escalation_rate": row["escalation_rate"] if n else None,
        "n_escalated": int(row["n_escalated"] or 0),
        "hallucination_reports": int(row["hallucination_reports"] or 0),
    }


def online_metrics(drafts: pl.DataFrame) -> dict[str, Any] | None:
    """Totals, per-day metrics and alerts for a frame of draft rows (see Store.drafts_frame); None if empty."""
    import polars as pl

    if drafts.is_empty():
        return None
    # Eager, over one chunk (here and in the windows): polars then sums in row order, so a report reads the same
    # every time (the lazy engine's partial sums per morsel moved the last digit of a 1M run's means between runs).
    per_day = drafts.filter(pl.col("day").is_not_null()).group_by("day").agg(_aggregates()).sort("day")
    days = [{"date": row["day"], **_summary(row)} for row in per_day.iter_rows(named=True)]
    _add_windows(days, drafts)
    baseline = _baseline(drafts)
    return {
        "n_drafts": drafts.height,
        "totals": _summary(drafts.select(_aggregates()).row(0, named=True)),
        "escalation_baseline": baseline,
        "days": days,
        "alerts": evaluate_alerts(days, baseline),
        "rules": [{"name": r.name, "condition": r.describe(), "target": r.target} for r in ALERT_RULES],
        "min_drafts_per_day": MIN_DRAFTS,
    }


def _baseline(drafts: pl.DataFrame) -> float | None:
    import polars as pl

    first = drafts["day"].min()
    if first is None:
        return None
    end = (date.fromisoformat(first) + timedelta(days=WEEK)).isoformat()  # type: ignore[arg-type]
    return drafts.filter(pl.col("day") < end).select(pl.col("escalated").cast(pl.Float64).mean()).item()


def _add_windows(days: list[dict[str, Any]], drafts: pl.DataFrame) -> None:
    """Trailing 7-calendar-day values for the weekly rules; None until a full week of history exists."""
    import polars as pl

    if not days:
        return
    first = date.fromisoformat(days[0]["date"])
    for entry in days:
        end = date.fromisoformat(entry["date"])
        start = end - timedelta(days=WEEK - 1)
        if start < first:
            entry["week"] = None
            continue
        window = drafts.filter(pl.col("day").is_between(pl.lit(start.isoformat()), pl.lit(entry["date"]))).select(
            n_drafts=pl.len(), edit_distance=pl.col("edit_distance").mean(),
            escalation_rate=pl.col("escalated").cast(pl.Float64).mean(),
            hallucination_reports=pl.col("hallucination_report").fill_null(0).sum()).row(0, named=True)
        entry["week"] = {**window, "escalation_rate": window["escalation_rate"] if window["n_drafts"] else None,
                         "hallucination_reports": int(window["hallucination_reports"])}


def _breaches(rule: AlertRule, entry: dict[str, Any], baseline: float | None) -> float | None:
    """The observed value when the day breaches the rule, else None."""
    source = entry.get("week") if rule.window_days > 1 else entry
    if not source or source["n_drafts"] < MIN_DRAFTS:
        return None
    value = source.get(rule.metric)
    if value is None:
        return None
    level = rule.threshold
    if rule.relative_to_baseline:
        if baseline is None:
            return None
        level += baseline
    hit = value > level if rule.op == ">" else value < level
    return value if hit else None


def evaluate_alerts(days: list[dict[str, Any]], baseline: float | None) -> list[dict[str, Any]]:
    """One alert per streak of breaching days at least `consecutive_days` long (calendar-consecutive)."""
    alerts = []
    for rule in ALERT_RULES:
        streak: list[tuple[str, float]] = []

        def close(streak: list[tuple[str, float]] = streak, rule: AlertRule = rule) -> None:
            if len(streak) >= rule.consecutive_days:
                worst = max(v for _, v in streak) if rule.op == ">" else min(v for _, v in streak)
                alerts.append({
                    "rule": rule.name, "metric": rule.metric, "condition": rule.describe(), "target": rule.target,
                    "first_day": streak[0][0], "last_day": streak[-1][0], "days": len(streak), "observed": worst,
                    "message": f"{rule.describe()}: {_fmt(rule.metric, worst)} "
                               f"({streak[0][0]} → {streak[-1][0]}, {len(streak)} day{'s' * (len(streak) > 1)})",
                })
            streak.clear()

        previous: date | None = None
        for entry in days:
            day = date.fromisoformat(entry["date"])
            if previous is not None and day - previous > timedelta(days=1):
                close()
            value = _breaches(rule, entry, baseline)
            if value is None:
                close()
            else:
                streak.append((entry["date"], value))
            previous = day
        close()
    return sorted(alerts, key=lambda a: (a["first_day"], a["rule"]))


def _fmt(metric: str, value: float) -> str:
    if metric.endswith("_rate"):
        return f"{100 * value:.1f}%"
    if metric == "latency_p95_ms":
        return f"{value / 1000:.1f} s"
    if metric == "cost_per_draft":
        return f"${value:.3f}"
    if metric == "hallucination_reports":
        return f"{int(value)} report{'s' * (value != 1)}"
    return f"{value:.2f}"
