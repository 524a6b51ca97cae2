"""Typed reports change no figure: `--json` today carries every key and value it carried before the models
(tests/data/report_json, written at the last commit with dict reports), and the terminal output and the
dashboard read the same objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cstui.metrics import build_report
from cstui.reports import GateResult, Report
from cstui.store import Store

BEFORE = Path(__file__).parent / "data" / "report_json"

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
    assert missing_or_changed(before, after) == [
        ".tiers.tier_3.resolution_rate.k: 47 → 48", ".escalation.by_confidence: missing"]


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
