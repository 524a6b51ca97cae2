"""`cstui eval` over whole runs: the demo's documented regressions, τ-bench imports, history, export."""

import json

import pytest
from test_import import tau_results

from cstui.evaluators import registry
from cstui.store import Store

N_DETERMINISTIC = len(registry.all_evaluators("deterministic"))

# The evaluator meant to catch each documented candidate regression (sample_data/README.md).
CATCHES = {
    "policy_fabrication": "policy_grounding",
    "fabricated_refund": "authorization_fabrication",
    "missed_distress": "safety_escalation",
    "deprecated_2fa": "deprecated_content",
    "rephrase_loop": "rephrase_loop",
    "tool_loop": "tool_error_loop",
    "late_escalation": "time_to_escalation",
    "silent_failure": "silent_failure",
}


def failures(db, run):
    with Store(db) as store:
        return {(r["session_id"], r["evaluator"]) for r in store.iter_result_rows(run) if r["passed"] is False}


def test_demo_is_evaluated_on_build(demo_db):
    with Store(demo_db) as store:
        assert store.results_frame("candidate").height == 325 * N_DETERMINISTIC


def test_every_candidate_regression_is_caught_and_the_baseline_is_clean(demo_db):
    with Store(demo_db) as store:
        tagged = {}
        for doc in store.iter_session_docs("candidate"):
            if "demo_regression" in doc:
                tagged.setdefault(doc["demo_regression"], []).append(doc["session_id"])
    assert set(tagged) == set(CATCHES)
    cand = failures(demo_db, "candidate")
    for tag, ids in tagged.items():
        for sid in ids:
            assert (sid, CATCHES[tag]) in cand, f"{tag} in {sid} not caught by {CATCHES[tag]}"
    assert failures(demo_db, "baseline") == set()
    # nothing fails in the candidate outside the documented sessions
    documented = {sid for ids in tagged.values() for sid in ids}
    assert {sid for sid, _ in cand} <= documented


def test_golden_draft_assist_cases(demo_db):
    cand, base = failures(demo_db, "candidate"), failures(demo_db, "baseline")
    assert ("G-003", "authorization_fabrication") in cand                       # the refund promise fails
    assert {("G-004", "safety_escalation"), ("G-004", "escalation_correctness")} <= cand
    assert {("G-005", "citation_validity"), ("G-005", "deprecated_content")} <= cand
    assert not {sid for sid, _ in base if sid.startswith("G-")}
    with Store(demo_db) as store:
        g4 = {r["evaluator"]: r for r in store.session_results("baseline", "G-004")}
    assert g4["safety_escalation"]["passed"] == 1  # escalated, no draft


def test_rerun_keeps_history_and_marks_the_newest_current(demo_db, cli):
    r = cli("eval", "--run", "candidate", "--evaluators", "authorization_fabrication,rephrase_loop", "--db", demo_db)
    assert r.code == 0 and "authorization_fabrication" in r.out and "rephrase_loop" in r.out
    assert "policy_grounding" not in r.out
    with Store(demo_db) as store:
        rows = store.conn.execute(
            "SELECT current, count(*) FROM results WHERE run='candidate' AND evaluator='rephrase_loop' GROUP BY current"
        ).fetchall()
        assert dict(rows) == {0: 325, 1: 325}
        assert store.results_frame("candidate").height == 325 * N_DETERMINISTIC


def test_a_first_evaluation_keeps_one_current_verdict_whatever_order_chunks_arrive_in(tmp_path, cli):
    """A run's first evaluation skips retiring while chunks arrive in rising session order; a chunk that goes back
    (a judge's verdicts, a cluster's out-of-order batch) must still retire what it replaces."""
    from cstui.demo import sample_file

    db = tmp_path / "t.db"
    assert cli("import", sample_file("candidate.jsonl"), "--run", "r", "--db", db).code == 0
    with Store(db) as store:
        sids = store.run_sids("r")[:3]

        def row(sid: int, passed: bool) -> tuple:
            return (sid, "x", "1", int(passed), None, None, "", "[]", None)

        with store.results_writer("r") as write:
            write([row(sids[0], True), row(sids[1], True)])
            write([row(sids[2], True)])  # rising: nothing to retire
            write([row(sids[1], False)])  # back to an earlier session: replaces its verdict
        current = dict(store.conn.execute("SELECT sid, passed FROM results WHERE run = 'r' AND evaluator = 'x'"
                                          " AND current = 1").fetchall())
        counts = store.conn.execute("SELECT count(*), sum(current) FROM results WHERE run = 'r' AND evaluator = 'x'"
                                    ).fetchone()
    assert current == {sids[0]: 1, sids[1]: 0, sids[2]: 1} and counts == (4, 3)


def test_a_reevaluation_retires_exactly_the_verdicts_its_chunks_replace(tmp_path, cli):
    """A chunk holding every evaluator for every session of the run between its first and last sid retires them
    as one range; a chunk with a session or an evaluator missing, or another run's sessions in its range, must
    retire exactly its own (session, evaluator) pairs."""
    import orjson

    from cstui.demo import sample_file

    db = tmp_path / "t.db"
    assert cli("import", sample_file("candidate.jsonl"), "--run", "r", "--db", db).code == 0
    assert cli("import", sample_file("baseline.jsonl"), "--run", "o", "--db", db).code == 0
    with Store(db) as store:
        doc = orjson.loads(next(store.session_json_chunks(store.run_sids("r")[:1], 1))[0][1])
    doc["session_id"] = "LATE-1"
    extra = tmp_path / "extra.jsonl"
    extra.write_bytes(orjson.dumps(doc) + b"\n")
    assert cli("import", extra, "--run", "r", "--append", "--db", db).code == 0  # after run o's sessions
    with Store(db) as store:
        r, o = store.run_sids("r"), store.run_sids("o")
        s, late = r[:5], r[-1]
        assert r[-2] < o[0] < late

        def row(sid: int, evaluator: str, passed: int) -> tuple:
            return (sid, evaluator, "1", passed, None, None, "", "[]", None)

        with store.results_writer("r") as write:  # the first evaluation: everything passes
            write([row(sid, e, 1) for sid in [*s, r[-2], late] for e in "xy"])
        with store.results_writer("o") as write:
            write([row(sid, e, 1) for sid in o[:3] for e in "xy"])
        with store.results_writer("r") as write:
            write([row(s[0], "x", 0), row(s[0], "y", 0), row(s[1], "x", 0)])  # s[1] without y
            write([row(s[2], e, 0) for e in "xy"] + [row(s[4], e, 0) for e in "xy"])  # s[3] missing
            write([row(r[-2], e, 0) for e in "xy"] + [row(late, e, 0) for e in "xy"])  # run o's sessions between
        current = {(sid, ev): passed for sid, ev, passed in store.conn.execute(
            "SELECT sid, evaluator, passed FROM results WHERE current = 1 AND evaluator IN ('x', 'y')")}
        counts = dict(store.conn.execute("SELECT run, count(*) FROM results WHERE current = 1"
                                         " AND evaluator IN ('x', 'y') GROUP BY run").fetchall())
    kept = {(s[1], "y"), (s[3], "x"), (s[3], "y")}
    assert {k for k, passed in current.items() if passed == 1 and k[0] in r} == kept
    assert all(current[sid, e] == 1 for sid in o[:3] for e in "xy")  # the other run's verdicts untouched
    assert counts == {"r": 14, "o": 6}  # one current verdict per (session, evaluator)


def test_unknown_evaluator_is_a_usage_error(demo_db, cli):
    r = cli("eval", "--run", "candidate", "--evaluators", "nope", "--db", demo_db)
    assert r.code == 2 and "unknown evaluator 'nope'" in r.err


def test_export_results_jsonl_contract(demo_db, cli, tmp_path):
    out = tmp_path / "results.jsonl"
    r = cli("export", "--run", "candidate", "--what", "results", "--format", "jsonl", "--out", out, "--db", demo_db)
    assert r.code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 325 * N_DETERMINISTIC
    assert set(rows[0]) == {"run", "session_id", "evaluator", "evaluator_version", "passed", "score", "label",
                            "rationale", "evidence", "created_at"}
    fabricated = next(r for r in rows if r["session_id"] == "G-003" and r["evaluator"] == "authorization_fabrication")
    assert fabricated["passed"] is False and fabricated["evidence"][0]["turn_index"] == 1
    assert "processed your full refund" in fabricated["evidence"][0]["snippet"]
    assert any(r["passed"] is None for r in rows)  # not applicable stays null


def test_report_json_evaluators_section(demo_db, cli):
    doc = json.loads(cli("report", "--run", "candidate", "--json", "--db", demo_db).out)
    ev = doc["evaluators"]["policy_grounding"]
    assert set(ev) >= {"n", "pass_rate", "ci_low", "ci_high", "by_tier"}
    assert ev["ci_low"] < ev["pass_rate"] < ev["ci_high"]
    assert ev["by_tier"]["tier_3"]["pass_rate"] < 0.99
    assert doc["hallucination_by_category"]["policy"]["failed"] >= 9


def test_tau_bench_run_gets_meaningful_results(tmp_path, cli):
    src = tmp_path / "tau.json"
    src.write_text(json.dumps(tau_results()))
    db = tmp_path / "t.db"
    assert cli("import", src, "--run", "tau", "--db", db).code == 0
    assert cli("eval", "--run", "tau", "--db", db).code == 0
    with Store(db) as store:
        res = {(r["session_id"], r["evaluator"]): r["passed"] for r in store.iter_result_rows("tau")}
    assert res[("task-12-trial-0", "authorization_fabrication")] is True    # cancel claim backed by the tool
    assert res[("task-12-trial-0", "escalation_correctness")] is True       # no transfer expected, none made
    assert res[("task-40-trial-1", "tool_error_loop")] is False             # same failing call three times
    assert res[("task-12-trial-0", "tool_error_loop")] is True
    assert res[("task-40-trial-1", "escalation_correctness")] is None       # tier 2, no reference actions


@pytest.mark.parametrize("processes", [1, 2])
def test_parallel_and_serial_evaluation_agree(demo_db, processes):
    from cstui import evaluation

    with Store(demo_db) as store:
        before = store.results_frame("candidate").sort("sid", "evaluator")
        evaluation.run(store, "candidate", evaluation.resolve(None), processes=processes)
        after = store.results_frame("candidate").sort("sid", "evaluator")
    assert before.select("sid", "evaluator", "passed").equals(after.select("sid", "evaluator", "passed"))


def test_a_pool_worker_collects_the_cycles_each_chunk_leaves(monkeypatch):
    """Pool workers run without automatic garbage collection; what a chunk leaves in reference cycles (here an
    evaluator's) must still be freed when the chunk is done, not pile up over a million sessions."""
    import gc
    import weakref

    from cstui import evaluate
    from cstui.config import Config
    from cstui.evaluators.base import Verdict
    from cstui.models import Session

    left: list[weakref.ref] = []

    class Cyclic:
        id, version = "cyclic", "1"

        def outcome(self, session, ctx):
            node: dict = {}
            node["self"] = node  # a cycle only the collector can free
            holder = type("Holder", (), {})()
            holder.node = node
            node["holder"] = holder
            left.append(weakref.ref(holder))
            return Verdict(True, "ok")

    session = Session.model_validate({"session_id": "s1", "turns": [{"role": "customer", "text": "hello there"}]})
    was_enabled = gc.isenabled()
    try:
        evaluate._init_pool_worker(Config(), [], ["pii_leak"], [])
        assert not gc.isenabled()
        monkeypatch.setattr(evaluate, "_EVALUATORS", [Cyclic()])
        rows = evaluate._evaluate_pool_chunk([(1, session.model_dump_json().encode())] * 3)
    finally:
        if was_enabled:
            gc.enable()
    assert [r[3] for r in rows] == [1, 1, 1] and len(left) == 3
    assert all(ref() is None for ref in left)
