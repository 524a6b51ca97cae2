"""Judge–human agreement: Cohen's κ against a hand-worked example and scikit-learn."""

from __future__ import annotations

import json
import random

import pytest

from cstui.agreement import agreement_block, cohen_kappa
from cstui.store import Store


def test_kappa_hand_example():
    # 10 verdicts: judge/human agree on 4 passes and 3 fails; judge pass & human fail 2; judge fail & human pass 1.
    pairs = [(True, True)] * 4 + [(False, False)] * 3 + [(True, False)] * 2 + [(False, True)]
    # p_o = 0.7; judge yes 0.6, human yes 0.5 → p_e = 0.6*0.5 + 0.4*0.5 = 0.5; κ = (0.7-0.5)/0.5 = 0.4
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    block = agreement_block(pairs)
    assert block["accuracy"] == pytest.approx(0.7) and block["trusted"] is False
    assert block["confusion"] == {"judge_pass_human_pass": 4, "judge_pass_human_fail": 2,
                                  "judge_fail_human_pass": 1, "judge_fail_human_fail": 3}


@pytest.mark.parametrize("seed", range(6))
def test_kappa_matches_scikit_learn(seed):
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(seed)
    human = [rng.random() < 0.7 for _ in range(200)]
    judge = [h if rng.random() < 0.8 else not h for h in human]
    assert cohen_kappa(list(zip(judge, human, strict=True))) == pytest.approx(cohen_kappa_score(judge, human))


def test_kappa_edge_cases():
    assert cohen_kappa([]) is None
    assert cohen_kappa([(True, True)] * 5) is None  # chance agreement is total: κ undefined
    assert cohen_kappa([(True, False)] * 3 + [(False, True)] * 3) == pytest.approx(-1.0)


def test_report_alignment_separates_queue_from_triage(demo_db, cli):
    """Judge verdicts imported as results, human labels from triage and from the review queue."""
    with Store(demo_db) as store:
        sids = store.conn.execute("SELECT id, session_id FROM sessions WHERE run = 'candidate' ORDER BY id LIMIT 12"
                                  ).fetchall()
        from cstui.evaluators.base import Verdict
        from cstui.store import verdict_row

        with store.results_writer("candidate", batch="j", source="judge:test") as write:
            write([verdict_row(sid, "policy_fabrication", "p1", Verdict(i % 3 != 0, "scripted"))
                   for i, (sid, _) in enumerate(sids)])
        for i, (_, session_id) in enumerate(sids):
            source = "queue" if i < 8 else "triage"
            verdict = "pass" if (i % 3 != 0) != (i == 4) else "fail"  # one disagreement in the queue
            store.add_label("candidate", {"session_id": session_id, "evaluator": "policy_fabrication",
                                          "verdict": verdict, "source": source}, reviewer="rev")
    rep = json.loads(cli("report", "--run", "candidate", "--db", demo_db, "--json").out)
    align = rep["alignment"]["policy_fabrication"]
    assert align["queue"]["n"] == 8 and align["triage"]["n"] == 4 and align["all"]["n"] == 12
    assert align["triage"]["kappa"] == pytest.approx(1.0)
    assert align["queue"]["accuracy"] == pytest.approx(7 / 8)
    assert "selection-biased" in align["note"]
    assert set(align["queue"]["by_tier"]) <= {"tier_1", "tier_2", "tier_3"}
    text = cli("report", "--run", "candidate", "--db", demo_db).out
    assert "LLM judges" in text and "selection-biased" in text
