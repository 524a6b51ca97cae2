"""Evaluator validity on real conversations: `cstui validate --by corpus` on the shipped validation set, split into
development parts (rules are written against them) and held-out parts (only ever measured), and the floors the
held-out figures may not slip under (precision ≥ 0.9 where an evaluator has ≥ 10 held-out flags; held-out SGD
fabrication recall ≥ 0.85)."""

from __future__ import annotations

import json

import pytest
from conftest import DATA

V = DATA / "validation"
SESSIONS = [V / "taubench" / "gpt-4o-airline-even-tasks.json", V / "taubench" / "late-escalations.json",
            V / "sgd" / "dev.jsonl", V / "sgd" / "held-out.jsonl", V / "maia" / "pt_br_client_02_a.json"]
LABELS = [V / "taubench" / "labels-hand.jsonl", V / "taubench" / "labels-derived.jsonl",
          V / "sgd" / "labels-dev.jsonl", V / "sgd" / "labels-held-out.jsonl", V / "sgd" / "labels-hand.jsonl"]


@pytest.fixture(scope="module")
def validated_run(tmp_path_factory):
    from conftest import run_cli

    summary = tmp_path_factory.mktemp("validated") / "validated.json"
    r = run_cli("validate", "--sessions", *SESSIONS, "--labels", *LABELS, "--by", "corpus", "--json",
                "--save-summary", summary)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    return ({(g["corpus"], g["part"]): g["evaluators"] for g in doc["by_corpus"]}, json.loads(summary.read_text()),
            {(g["corpus"], g["part"]): g["ranking"] for g in doc["by_corpus"]})


@pytest.fixture(scope="module")
def held_out(validated_run):
    return validated_run[0][("all", "held-out")]


def test_every_label_names_its_corpus_and_part_and_no_sgd_service_is_on_both_sides():
    import sys

    sys.path.insert(0, str(V))
    from build import SGD_HELD_OUT

    rows = [json.loads(line) for path in LABELS for line in path.read_text().splitlines()]
    assert all(r.get("corpus") and r.get("part") in ("dev", "held-out") for r in rows)
    services = {part: set() for part in ("dev", "held-out")}
    for part in services:
        for line in (V / "sgd" / f"{part}.jsonl").read_text().splitlines():
            services[part].update(json.loads(line)["source"].get("services", []) or [])
    assert not services["dev"] & SGD_HELD_OUT


def test_the_figures_reports_show_are_those_of_the_shipped_set(validated_run):
    """cstui/validated.json is what reports show until a run has reviewer labels; an evaluator change that moves
    its precision must regenerate it (`make validated`), or reports would show stale trust."""
    from cstui.validation import shipped_summary

    assert shipped_summary()["evaluators"] == validated_run[1]["evaluators"]


def test_the_set_has_both_kinds_for_every_evaluator_it_covers():
    rows = [json.loads(line) for path in LABELS for line in path.read_text().splitlines()]
    assert len(rows) >= 150
    for evaluator in ("authorization_fabrication", "policy_grounding", "rephrase_loop", "repetitive_response",
                      "tool_error_loop", "escalation_correctness", "time_to_escalation", "action_detail_mismatch"):
        kinds = {r["expected"] for r in rows if r["evaluator"] == evaluator}
        assert kinds == {"pass", "fail"}, evaluator
    assert all(r["reason"] for r in rows)


def test_held_out_precision_floor_for_every_evaluator_with_ten_held_out_flags(held_out):
    checked = []
    for name, v in held_out.items():
        if v["flagged"] >= 10:
            checked.append(name)
            assert v["precision"]["value"] >= 0.9, (name, v["precision"], v["disagreements"][:5])
    assert "authorization_fabrication" in checked


def test_held_out_sgd_fabrication_recall_and_precision(validated_run):
    v = validated_run[0][("sgd", "held-out")]["authorization_fabrication"]
    assert v["expected_failures"] == 60
    assert v["recall"]["value"] >= 0.85 and v["precision"]["value"] >= 0.9


def test_validate_prints_the_table_and_exits_1_under_a_floor(tmp_path):
    from conftest import run_cli

    r = run_cli("validate", "--sessions", SESSIONS[0], "--labels", LABELS[0], "--evaluators",
                "rephrase_loop,policy_grounding")
    assert r.code == 0, r.err
    assert "precision" in r.out and "rephrase_loop" in r.out and "policy_grounding" in r.out
    strict = run_cli("validate", "--sessions", SESSIONS[0], "--labels", LABELS[0], "--evaluators",
                     "rephrase_loop", "--min-recall", "0.99")
    assert strict.code == 1 and "below the floor" in strict.out


def test_validate_against_a_runs_reviewer_labels(demo_db):
    from conftest import run_cli

    assert run_cli("validate", "--run", "candidate", "--db", demo_db).code == 2  # no labels yet: says so
    for sid, verdict in (("S-000099", "fail"), ("S-000118", "fail"), ("S-000001", "pass")):
        assert run_cli("label", sid, "--run", "candidate", "--evaluator", "authorization_fabrication", "--verdict",
                       verdict, "--db", demo_db).code == 0
    r = run_cli("validate", "--run", "candidate", "--db", demo_db, "--json")
    v = json.loads(r.out)["evaluators"]["authorization_fabrication"]
    assert (v["tp"], v["fp"], v["fn"], v["tn"]) == (2, 0, 0, 1)


def test_report_shows_the_held_out_precision_and_a_runs_labels_refine_it(demo_db):
    from conftest import run_cli

    from cstui.validation import RUN_SOURCE, SHIPPED_SOURCE, shipped_summary

    def validated() -> dict:
        r = run_cli("report", "--run", "candidate", "--db", demo_db, "--json")
        assert r.code == 0, r.err
        return {k: v["validated"] for k, v in json.loads(r.out)["evaluators"].items()}

    before = validated()
    shipped = shipped_summary()["evaluators"]["authorization_fabrication"]
    assert before["authorization_fabrication"]["source"] == SHIPPED_SOURCE
    assert before["authorization_fabrication"]["precision"] == shipped["precision"]
    assert before["safety_escalation"] is None  # not in the validation set: unmeasured, not "perfect"
    for sid, verdict in (("S-000099", "fail"), ("S-000118", "pass")):  # both flagged: one confirmed, one not
        assert run_cli("label", sid, "--run", "candidate", "--evaluator", "authorization_fabrication", "--verdict",
                       verdict, "--db", demo_db).code == 0
    after = validated()["authorization_fabrication"]
    assert after["source"] == f"{SHIPPED_SOURCE} + {RUN_SOURCE}"  # refined, not replaced
    prior = min(shipped["flagged"], 20)
    assert after["precision"] == round((shipped["precision"] * prior + 1) / (prior + 2), 4)
    assert (after["run"]["flagged"], after["run"]["confirmed"]) == (2, 1)
    assert after["held_out"]["precision"] == shipped["precision"]
    assert validated()["rephrase_loop"]["source"] == SHIPPED_SOURCE  # other evaluators keep the shipped figure


def test_bad_labels_are_rejected_with_file_and_line(tmp_path):
    from conftest import run_cli

    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"session_id": "a", "evaluator": "rephrase_loop", "expected": "pass"}\n'
                   '{"session_id": "a", "evaluator": "rephrase_loop", "expected": "maybe"}\n')
    r = run_cli("validate", "--sessions", SESSIONS[0], "--labels", bad)
    assert r.code == 2 and f"{bad}:2:" in r.err and "pass' or 'fail'" in r.err
    conflict = tmp_path / "conflict.jsonl"
    conflict.write_text('{"session_id": "a", "evaluator": "rephrase_loop", "expected": "pass"}\n'
                        '{"session_id": "a", "evaluator": "rephrase_loop", "expected": "fail"}\n')
    r = run_cli("validate", "--sessions", SESSIONS[0], "--labels", conflict)
    assert r.code == 2 and f"{conflict}:2:" in r.err


def test_frustration_ranks_real_customers_and_its_flags_hold_on_the_development_chats(validated_run):
    """MAIA-DQE (real chats; annotators' per-sentence emotions): the graded score ranks frustrated chats (AUC ≥ 0.75)
    and 7 in 10 of its flags are right on the development part; the held-out part is measured, not tuned."""
    figures, _, rankings = validated_run
    dev = rankings[("maia", "dev")]["frustration"]
    assert dev["auc"] >= 0.75 and dev["beats_baselines"], dev
    assert figures[("maia", "dev")]["frustration"]["precision"]["value"] >= 0.7
    held = rankings[("maia", "held-out")]["frustration"]
    assert held["n"] == 43 and held["auc"] is not None and set(held["baselines"]) == {"complaint words",
                                                                                      "customer turns"}


def test_validate_prints_scores_against_their_baselines(tmp_path):
    from conftest import run_cli

    r = run_cli("validate", "--sessions", V / "maia" / "pt_br_client_02_a.json", "--by", "corpus")
    assert r.code == 0, r.err
    assert "ranking: scored evaluators' ROC AUC" in r.out and "complaint words" in r.out
    assert "maia · held-out" in r.out and ("beats them" in r.out or "DOES NOT beat them" in r.out)
