"""Drift between consecutive runs of one system, recorded as events a reviewer can annotate.

Governance needs evidence that drift was seen when it happened and what was done about it: each
event says which metric moved, by how much, against which run, and when; `cstui drift note` adds the
remediation (audited). A rate drifts when it moves by more than MIN_DELTA and a two-sided
two-proportion test gives p < ALPHA; ECE drifts when it moves by more than MIN_DELTA.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cstui.report_models import Report
    from cstui.store import Store

MIN_DELTA = 0.05
ALPHA = 0.05


def previous_run(store: Store, run: str) -> str | None:
    """The run of the same system imported just before this one."""
    runs = store.runs()
    names = [r["name"] for r in runs]
    if run not in names:
        return None
    system = runs[names.index(run)]["system"]
    earlier = [r["name"] for r in runs[: names.index(run)] if r["system"] == system]
    return earlier[-1] if earlier else None


def two_sided_p(k1: int, n1: int, k2: int, n2: int) -> float:
    from cstui.gates import two_proportion_z

    z = two_proportion_z(k1, n1, k2, n2)
    return 1.0 if z is None else math.erfc(abs(z) / math.sqrt(2))


def _rates(report: Report) -> dict[tuple[str, str], tuple[int, int]]:
    """(metric, scope) → (k, n) for every rate the comparison covers."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for scope, block in {"overall": report.overall, **report.tiers}.items():
        for metric in ("resolution_rate", "escalation_rate", "contained_unresolved"):
            r = getattr(block, metric)
            if r is not None and r.n:
                out[(metric, scope)] = (r.k, r.n)
    for name, ev in report.evaluators.items():
        if ev.n:
            out[(f"pass_rate:{name}", "overall")] = (ev.k, ev.n)
        for tier, t in ev.by_tier.items():
            out[(f"pass_rate:{name}", tier)] = (t.k, t.n)
    return out


def compare_reports(previous: Report, current: Report) -> list[dict[str, Any]]:
    events = []
    prev_rates, cur_rates = _rates(previous), _rates(current)
    for key in sorted(prev_rates.keys() & cur_rates.keys()):
        (k1, n1), (k2, n2) = prev_rates[key], cur_rates[key]
        delta = k2 / n2 - k1 / n1
        p = two_sided_p(k1, n1, k2, n2)
        if abs(delta) > MIN_DELTA and p < ALPHA:
            events.append({"metric": key[0], "scope": key[1], "previous": k1 / n1, "current": k2 / n2,
                           "delta": delta, "n_previous": n1, "n_current": n2, "p_value": p})
    for scope in ("overall", "tier_1", "tier_2", "tier_3"):
        a = previous.calibration.overall if scope == "overall" else previous.calibration.by_tier.get(scope)
        b = current.calibration.overall if scope == "overall" else current.calibration.by_tier.get(scope)
        if a and b and a.ece is not None and b.ece is not None and abs(b.ece - a.ece) > MIN_DELTA:
            events.append({"metric": "ece", "scope": scope, "previous": a.ece, "current": b.ece,
                           "delta": b.ece - a.ece, "n_previous": a.n, "n_current": b.n, "p_value": None})
    return events


def detect_drift(store: Store, run: str) -> tuple[str | None, list[dict[str, Any]]]:
    """Compare a run with its predecessor and record the drift events; returns (previous run, events)."""
    from cstui.metrics import build_report

    prev = previous_run(store, run)
    if prev is None:
        return None, []
    events = compare_reports(build_report(store, prev), build_report(store, run))
    store.record_drift(run, prev, events)
    return prev, events
