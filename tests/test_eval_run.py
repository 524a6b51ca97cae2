"""`cstui eval` over whole runs: the demo's documented regressions, τ-bench imports, history, export."""

import json
import os

import polars as pl
import pytest
from conftest import verdict_counts_around_a_cancelled_run
from test_import import tau_results

from cstui.evaluators import registry
from cstui.store import Store, VerdictRow

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

        def row(sid: int, passed: bool) -> VerdictRow:
            return VerdictRow(sid, "x", "1", int(passed), None, None, "", "[]", None)

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

        def row(sid: int, evaluator: str, passed: int) -> VerdictRow:
            return VerdictRow(sid, evaluator, "1", passed, None, None, "", "[]", None)

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


def _stale_first_evaluation(store, run, evaluators):
    """A first evaluation every reader can tell from a real one: each verdict fails with rationale "stale"."""
    with store.results_writer(run) as write:
        write([VerdictRow(sid, e, "0", 0, 0.99, None, "stale", "[]", None) for sid in store.run_sids(run)
               for e in evaluators])


def test_a_whole_run_reevaluation_supersedes_the_earlier_verdicts_for_every_reader(tmp_path, cli):
    """Evaluating every session again retires the previous verdicts set by set, their rows left as they are (so a
    second evaluation costs what the first did); whatever a user reads — the results view, a session's verdicts,
    the export, the frustration scores the failures list sorts by, the machine verdict beside a label — is the new
    evaluation's."""
    from cstui import evaluation
    from cstui.demo import sample_file

    db, evs = tmp_path / "t.db", ["frustration", "rephrase_loop"]
    assert cli("import", sample_file("candidate.jsonl"), "--run", "r", "--db", db).code == 0
    with Store(db) as store:
        _stale_first_evaluation(store, "r", evs)
        first = store.conn.execute("SELECT session_id FROM sessions WHERE run = 'r' ORDER BY id LIMIT 1").fetchone()[0]
        n = len(store.run_sids("r"))
        evaluation.run(store, "r", evs)
        store.add_label("r", {"session_id": first, "evaluator": "rephrase_loop", "verdict": "fail"}, reviewer="t")

        view = store.conn.execute("SELECT evaluator, current, count(*), sum(rationale = 'stale') FROM results"
                                  " WHERE run = 'r' GROUP BY evaluator, current").fetchall()
        untouched = store.conn.execute("SELECT count(*) FROM verdicts v JOIN verdict_sets s ON s.id = v.vset"
                                       " WHERE s.superseded = 1 AND v.current = 1").fetchone()[0]
        session = store.session_results("r", first)
        exported = list(store.iter_result_rows("r"))
        scores = pl.concat(store.evaluator_scores("r", "frustration"))
        expected = dict(store.conn.execute("SELECT sid, score FROM results WHERE run = 'r' AND current = 1"
                                           " AND evaluator = 'frustration' AND score IS NOT NULL").fetchall())
        labelled = store.labelled_verdicts("r")
    assert sorted(view) == [(e, c, n, n if c == 0 else 0) for e in evs for c in (0, 1)]
    assert untouched == n * len(evs)  # superseded as sets: not one of their rows rewritten
    assert sorted(r["evaluator"] for r in session) == evs and all(r["rationale"] != "stale" for r in session)
    assert len(exported) == n * len(evs) and not [r for r in exported if r["rationale"] == "stale"]
    assert dict(zip(scores["sid"], scores["score"], strict=True)) == expected and 0.99 not in expected.values()
    assert len(labelled) == 1 and labelled[0]["has_result"] and labelled[0]["rationale"] != "stale"


def test_superseding_spares_the_verdicts_of_its_own_batch(tmp_path, cli):
    """`supersede` retires what came before the writer, not what the writer has already written."""
    from cstui.demo import sample_file

    db = tmp_path / "t.db"
    assert cli("import", sample_file("candidate.jsonl"), "--run", "r", "--db", db).code == 0
    with Store(db) as store:
        _stale_first_evaluation(store, "r", ["x"])
        sids = store.run_sids("r")
        with store.results_writer("r") as write:
            write([VerdictRow(sid, "x", "1", 1, None, None, "new", "[]", None) for sid in sids[:3]])
            write.supersede(["x"])
            write([VerdictRow(sid, "x", "1", 1, None, None, "new", "[]", None) for sid in sids[3:]])
        current = store.conn.execute("SELECT rationale, count(*) FROM results WHERE run = 'r' AND current = 1"
                                     " GROUP BY rationale").fetchall()
    assert current == [("new", len(sids))]


def test_an_evaluation_of_some_sessions_replaces_only_theirs(tmp_path, cli):
    """Chosen sessions (a rerun from the TUI) or a Parquet dataset holding part of the run do not cover every
    session: the other sessions' verdicts stay current."""
    from cstui import evaluation
    from cstui.demo import sample_file

    db, out = tmp_path / "t.db", tmp_path / "parts"
    assert cli("import", sample_file("candidate.jsonl"), "--run", "r", "--db", db).code == 0
    assert cli("export", "--run", "r", "--what", "sessions", "--format", "parquet", "--out", out,
               "--partitions", "2", "--db", db).code == 0
    part = sorted(out.glob("*.parquet"))[0]
    in_part = set(pl.read_parquet(part, columns=["session_id"])["session_id"].to_list())
    with Store(db) as store:
        _stale_first_evaluation(store, "r", ["rephrase_loop"])
        chosen = sorted(store.conn.execute("SELECT session_id FROM sessions WHERE run = 'r'").fetchall())[:7]
        evaluation.run(store, "r", ["rephrase_loop"], session_ids=[c for (c,) in chosen])
        evaluation.run(store, "r", ["rephrase_loop"], sessions_dir=part)
        fresh = {sid for (sid,) in store.conn.execute(
            "SELECT s.session_id FROM results r JOIN sessions s ON s.id = r.sid WHERE r.run = 'r' AND r.current = 1"
            " AND r.rationale != 'stale'")}
        n_current, n_sessions = store.conn.execute(
            "SELECT (SELECT count(*) FROM results WHERE run = 'r' AND current = 1),"
            " (SELECT count(*) FROM sessions WHERE run = 'r')").fetchone()
    assert 0 < len(in_part) < n_sessions
    assert fresh == in_part | {c for (c,) in chosen}
    assert n_current == n_sessions  # one current verdict per session, the rest still the stale ones


def test_a_cancelled_reevaluation_leaves_the_previous_verdicts_current(demo_db):
    """Superseding is part of the evaluation's transaction: cancelling it (the TUI's rerun dialog) undoes it."""
    with Store(demo_db) as store:
        before, after = verdict_counts_around_a_cancelled_run(store, "candidate", processes=1)
    assert after == before and before[2] == 325 * N_DETERMINISTIC


def _verdicts(store, run=None):
    """(current rows, history rows) of the results view, of one run or of all."""
    where = "" if run is None else " WHERE run = ?"
    rows = sorted(store.conn.execute(f"SELECT run, sid, evaluator, passed, rationale, evidence, current FROM results"
                                     f"{where}", () if run is None else (run,)).fetchall())
    return [r for r in rows if r[-1] == 1], [r for r in rows if r[-1] == 0]


def test_prune_deletes_the_history_and_nothing_a_user_reads(demo_db, cli):
    """After `cstui prune` the report, the current verdicts and the labels are what they were; the verdicts of the
    superseded evaluation and those a rerun of chosen sessions replaced are gone, and the audit log says so."""
    from cstui import evaluation

    with Store(demo_db) as store:
        evaluation.run(store, "candidate", evaluation.resolve(None))  # supersedes the demo build's evaluation
        chosen = [s for (s,) in store.conn.execute(
            "SELECT session_id FROM sessions WHERE run = 'candidate' ORDER BY id LIMIT 5")]
        evaluation.run(store, "candidate", ["rephrase_loop"], session_ids=chosen)  # retires five rows
        store.add_label("candidate", {"session_id": chosen[0], "evaluator": "rephrase_loop", "verdict": "fail"},
                        reviewer="t")
        current, history = _verdicts(store)
        labels = store.labels("candidate")
    report = cli("report", "--run", "candidate", "--json", "--db", demo_db).out
    assert len(history) == 325 * N_DETERMINISTIC + 5

    dry = cli("prune", "--dry-run", "--db", demo_db)
    assert dry.code == 0 and f"{len(history):,} verdicts no longer current" in dry.out and "nothing deleted" in dry.out
    with Store(demo_db) as store:
        assert _verdicts(store) == (current, history)

    done = cli("prune", "--db", demo_db)
    assert done.code == 0 and f"deleted {len(history):,} verdicts" in done.out, done.out
    with Store(demo_db) as store:
        assert _verdicts(store) == (current, [])
        assert store.labels("candidate") == labels
        assert store.conn.execute("SELECT count(*) FROM verdict_sets WHERE superseded = 1").fetchone()[0] == 0
        audit = store.conn.execute("SELECT payload FROM audit WHERE action = 'prune'").fetchall()
    assert cli("report", "--run", "candidate", "--json", "--db", demo_db).out == report
    assert len(audit) == 1 and json.loads(audit[0][0])["verdicts"] == len(history)
    assert cli("audit", "verify", "--db", demo_db).code == 0
    assert cli("eval", "--run", "candidate", "--db", demo_db, "--no-drift").code == 0  # evaluating goes on as before
    with Store(demo_db) as store:
        assert len(_verdicts(store, "candidate")[0]) == 325 * N_DETERMINISTIC


def test_prune_of_one_run_leaves_the_others_history_and_vacuum_gives_the_space_back(demo_db, cli):
    from cstui import evaluation

    with Store(demo_db) as store:
        for run in ("baseline", "candidate"):
            evaluation.run(store, run, evaluation.resolve(None))
        candidate_history = _verdicts(store, "candidate")[1]
    assert cli("prune", "--dry-run", "--vacuum", "--db", demo_db).code == 2
    assert cli("prune", "--run", "nope", "--db", demo_db).code == 2
    assert cli("prune", "--run", "baseline", "--db", demo_db).code == 0
    with Store(demo_db) as store:
        assert _verdicts(store, "baseline")[1] == [] and _verdicts(store, "candidate")[1] == candidate_history
    before = demo_db.stat().st_size
    done = cli("prune", "--vacuum", "--db", demo_db)
    assert done.code == 0 and "after VACUUM" in done.out
    assert demo_db.stat().st_size < before
    with Store(demo_db) as store:
        assert _verdicts(store, "candidate")[1] == []


def test_vacuum_beside_a_reader_says_when_the_space_comes_back(demo_db, cli):
    """A TUI left open on the file holds a snapshot: the rewritten file waits in the log, and prune says so rather
    than printing an unchanged size (or waiting out the 30 s busy timeout)."""
    import sqlite3

    from cstui import evaluation

    with Store(demo_db) as store:
        evaluation.run(store, "candidate", evaluation.resolve(None))
    reader = sqlite3.connect(demo_db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sessions").fetchone()
    try:
        done = cli("prune", "--vacuum", "--db", demo_db)
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert done.code == 0 and "another process is reading it" in done.out, done.out


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

    from cstui.config import Config
    from cstui.evaluation import worker
    from cstui.evaluators.base import Verdict
    from cstui.models import Session

    left: list[weakref.ref] = []

    class Cyclic:
        id, version = "cyclic", "1"

        def evaluate(self, session, ctx):
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
        worker.init_pool_worker(os.getppid(), Config(), [], ["pii_leak"], [])
        assert not gc.isenabled()
        monkeypatch.setattr(worker, "_EVALUATORS", [Cyclic()])
        rows = worker.evaluate_pool_chunk([(1, session.model_dump_json().encode())] * 3)
    finally:
        if was_enabled:
            gc.enable()
    assert [r[3] for r in rows] == [1, 1, 1] and len(left) == 3
    assert all(ref() is None for ref in left)
