"""Typed reports and bounded-memory reports change no figure: `--json` today carries every key and value it
carried before (tests/data/report_json, written with whole-run frames and dict reports; floats to 13 digits,
see FLOAT_ULPS), and the terminal output and the dashboard read the same objects."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from cstui.metrics import build_report
from cstui.report_models import GateResult, Report
from cstui.store import Store

BEFORE = Path(__file__).parent / "data" / "report_json"
# Reports now sum floats exactly (cstui/tally.py) where the documents here were written with polars' running sums;
# the two differ in the 15th-16th significant digit, never in a count, a rate or an interval.
FLOAT_ULPS = 1e-13

CASES = [
    ("report_candidate.json", ["report", "--run", "candidate", "--json"]),
    ("report_candidate_by_intent.json", ["report", "--run", "candidate", "--by", "intent", "--json"]),
    ("report_baseline.json", ["report", "--run", "baseline", "--json"]),
    ("report_assist_prod.json", ["report", "--run", "assist-prod", "--json"]),
    ("gate_candidate_vs_baseline.json", ["gate", "--run", "candidate", "--baseline", "baseline", "--json"]),
    ("gate_baseline.json", ["gate", "--run", "baseline", "--json"]),
]


def missing_or_changed(before: Any, after: Any, path: str = "") -> list[str]:
    """Where `after` lost a key or changed a value of `before` (keys `after` adds are allowed)."""
    if isinstance(before, dict):
        if not isinstance(after, dict):
            return [f"{path}: was an object, now {type(after).__name__}"]
        out = []
        for key, value in before.items():
            if key == "gate_file":  # a local path
                continue
            if key not in after:
                out.append(f"{path}.{key}: missing")
            else:
                out.extend(missing_or_changed(value, after[key], f"{path}.{key}"))
        return out
    if isinstance(before, list):
        if not isinstance(after, list) or len(after) != len(before):
            return [f"{path}: list changed length or type"]
        return [p for i, (b, a) in enumerate(zip(before, after, strict=True)) for p in missing_or_changed(b, a, f"{path}[{i}]")]
    if isinstance(before, float) and isinstance(after, float):  # sums are exact now: the last digits may move
        return [] if math.isclose(before, after, rel_tol=FLOAT_ULPS, abs_tol=FLOAT_ULPS) else [
            f"{path}: {before!r} → {after!r}"]
    return [] if before == after and type(before) is type(after) else [f"{path}: {before!r} → {after!r}"]


@pytest.mark.parametrize(("fixture", "args"), CASES, ids=[c[0] for c in CASES])
def test_json_keeps_every_key_and_value(demo_db: Path, cli: Any, fixture: str, args: list[str]) -> None:
    result = cli("--db", demo_db, *args)
    assert result.code in (0, 1), result.err
    problems = missing_or_changed(json.loads((BEFORE / fixture).read_text()), json.loads(result.out))
    assert not problems, "\n".join(problems[:20])


def test_the_comparison_catches_a_changed_figure() -> None:
    before = json.loads((BEFORE / "report_candidate.json").read_text())
    after = json.loads(json.dumps(before))
    after["tiers"]["tier_3"]["resolution_rate"]["k"] += 1
    del after["escalation"]["by_confidence"]
    after["calibration"]["overall"]["ece"] *= 1 + 1e-9
    ece = before["calibration"]["overall"]["ece"], after["calibration"]["overall"]["ece"]
    assert missing_or_changed(before, after) == [
        ".tiers.tier_3.resolution_rate.k: 47 → 48", f".calibration.overall.ece: {ece[0]!r} → {ece[1]!r}",
        ".escalation.by_confidence: missing"]


def test_reports_are_typed_models_read_by_attribute(demo_db: Path) -> None:
    from cstui.gates import run_gate

    with Store(demo_db) as store:
        report = build_report(store, "candidate", by="intent")
        gate = run_gate(store, "candidate", baseline="baseline")
    assert isinstance(report, Report) and isinstance(gate, GateResult)
    tier_3 = report.tiers["tier_3"]
    assert tier_3.resolution_rate.value == tier_3.resolution_rate.k / tier_3.resolution_rate.n
    assert report.to_json()["tiers"]["tier_3"]["resolution_rate"]["k"] == tier_3.resolution_rate.k
    assert report.evaluators["authorization_fabrication"].by("intent")["billing_dispute"].n > 0
    rule = gate.rule("safety_escalation")
    assert rule.status == "fail" and rule.baseline is not None and rule.baseline.run == "baseline"
    assert "safety_escalation" in gate.failed
