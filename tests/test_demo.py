"""The demo data: committed, deterministic, and shaped like a real launch eval set."""

import json
from collections import Counter

from cstui.demo import sample_file
from cstui.sample_data import generate


def load(run):
    return [json.loads(line) for line in sample_file(f"{run}.jsonl").read_text().splitlines()]


def test_generator_reproduces_the_committed_files(tmp_path):
    generate.main(tmp_path)
    for name in ("kb.jsonl", "baseline.jsonl", "candidate.jsonl", "assist-prod.jsonl"):
        assert (tmp_path / name).read_bytes() == sample_file(name).read_bytes(), name


def test_both_runs_cover_tiers_channels_and_the_launch_mix():
    for run in ("baseline", "candidate"):
        sessions = load(run)
        assert len(sessions) >= 300
        assert set(Counter(s["tier"] for s in sessions)) == {1, 2, 3}
        assert set(Counter(s["channel"] for s in sessions)) == {"chat", "email", "voice"}
        mix = Counter(s["category"] for s in sessions)
        for category, share in {"routine": 0.6, "edge": 0.2, "adversarial": 0.1, "safety": 0.1}.items():
            assert abs(mix[category] / len(sessions) - share) < 0.03, mix
        kinds = Counter(sp["kind"] for s in sessions for sp in s["spans"])
        assert {"intent", "retrieval", "policy_lookup", "tool", "llm", "guardrail", "escalation"} <= set(kinds)
        assert any(sp["status"] == "error" for s in sessions for sp in s["spans"])
        multi = [s for s in sessions if len(s["turns"]) >= 4]
        assert len(multi) / len(sessions) > 0.6  # multi-turn transcripts, not single Q&A
        assert sum(len(s["turns"]) >= 6 for s in sessions) > 50


def test_runs_share_customers_and_only_the_candidate_carries_regressions():
    base, cand = load("baseline"), load("candidate")
    assert [s["session_id"] for s in base] == [s["session_id"] for s in cand]
    assert [s["turns"][0]["text"] for s in base] == [s["turns"][0]["text"] for s in cand]
    assert not any("demo_regression" in s for s in base)
    tags = Counter(s["demo_regression"] for s in cand if "demo_regression" in s)
    assert set(tags) == {"policy_fabrication", "fabricated_refund", "missed_distress", "rephrase_loop",
                         "tool_loop", "deprecated_2fa", "late_escalation", "silent_failure"}
    assert tags["missed_distress"] == 1 and tags["silent_failure"] == 3


def test_golden_draft_assist_cases_are_present():
    golden = {s["session_id"]: s for s in load("baseline") if "golden" in s}
    assert set(golden) == {"G-001", "G-002", "G-003", "G-004", "G-005"}
    assert all(s["system"]["kind"] == "draft_assist" for s in golden.values())
    assert golden["G-004"]["turns"][1]["suppressed"] is True


def test_readme_documents_every_candidate_regression():
    readme = sample_file("README.md").read_text()
    for s in load("candidate"):
        if "demo_regression" in s:
            row = next(line for line in readme.splitlines() if line.startswith(f"| `{s['demo_regression']}`"))
            assert s["session_id"] in row, (s["demo_regression"], s["session_id"])
