"""Estimated dissatisfaction (issue 34, item 5): the share of customers likely dissatisfied, per tier, from the
calibrated frustration score, with an interval and the validation figure it rests on; a gate can cap it."""

from __future__ import annotations

import json

import pytest

from cstui.store import Store


def test_report_estimates_dissatisfaction_per_tier_with_an_interval(demo_db, cli):
    r = cli("report", "--run", "candidate", "--db", demo_db, "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)["dissatisfaction"]
    assert d["evaluator"] == "frustration" and set(d["tiers"]) >= {"tier_1", "tier_2", "tier_3"}
    with Store(demo_db) as store:
        scores = [row["score"] for row in store.iter_result_rows("candidate")
                  if row["evaluator"] == "frustration" and row["score"] is not None]
    assert d["overall"]["n"] == len(scores) and d["overall"]["value"] == pytest.approx(sum(scores) / len(scores))
    for block in d["tiers"].values():
        assert block["ci_low"] <= block["value"] <= block["ci_high"]
    assert sum(b["n"] for b in d["tiers"].values()) == d["overall"]["n"]
    assert d["rests_on"]["real_customers"]["auc"] is not None  # MAIA held-out, from cstui/validated.json
    text = cli("report", "--run", "candidate", "--db", demo_db)
    assert "Estimated dissatisfaction" in text.out and "rests on: ranks real customers' frustration/anger at AUC" in text.out


@pytest.mark.parametrize("cap, code", [(0.5, 0), (0.01, 1)])
def test_a_gate_can_cap_dissatisfaction(cap, code, demo_db, cli, tmp_path):
    gates = tmp_path / "gates.toml"
    gates.write_text(f'[[rule]]\nname = "dissatisfaction"\ntitle = "Estimated dissatisfaction"\n'
                     f'metric = "dissatisfaction"\nper = "tier"\nmax = {cap}\non_fail = "block"\n')
    r = cli("gate", "--run", "candidate", "--db", demo_db, "--config", gates, "--json")
    assert r.code == code, r.err
    rules = json.loads(r.out)["rules"]
    assert {x["name"] for x in rules} >= {"dissatisfaction.tier_1", "dissatisfaction.tier_3"}
    assert all(x["n"] > 0 and x["ci_low"] <= x["observed"] <= x["ci_high"] for x in rules)


def test_a_dissatisfaction_rule_takes_a_max(tmp_path, demo_db, cli):
    gates = tmp_path / "gates.toml"
    gates.write_text('[[rule]]\nname = "d"\ntitle = "d"\nmetric = "dissatisfaction"\nmin = 0.1\non_fail = "block"\n')
    r = cli("gate", "--run", "candidate", "--db", demo_db, "--config", gates)
    assert r.code == 2 and "max" in r.err
