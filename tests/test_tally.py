"""Reports and gates read a run in bounded chunks and add up order-free tallies: how the run is cut must not
change one digit, and reviewers' overrides must count exactly as they do in the whole-run frames."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cstui.gates import run_gate
from cstui.metrics import build_report
from cstui.store import Store, VerdictRow
from cstui.store import chunks as chunks_module
from cstui.tally import CalibrationTally, ExactSum

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, max_size=60), st.randoms())
@settings(max_examples=200, deadline=None)
def test_exact_sum_is_fsum_in_any_order_and_any_split(values: list[float], rnd) -> None:
    shuffled = values[:]
    rnd.shuffle(shuffled)
    cut = rnd.randint(0, len(values))
    left, right = ExactSum(), ExactSum()
    for v in shuffled[:cut]:
        left.add(v)
    for v in shuffled[cut:]:
        right.add(v)
    left.merge(right)
    assert left.value() == math.fsum(values)
    if values:
        assert left.mean(len(values)) == pytest.approx(math.fsum(values) / len(values), rel=1e-15, abs=1e-300)


def test_repeated_values_count_once_each_time() -> None:
    total = ExactSum()
    total.add(0.1, 10)
    assert total.value() == math.fsum([0.1] * 10) == 1.0  # a running float sum would say 0.9999999999999999


def test_calibration_tallies_merge_to_the_whole() -> None:
    pairs = [(i / 37 % 1, i % 3 == 0) for i in range(200)]
    whole, a, b = CalibrationTally(), CalibrationTally(), CalibrationTally()
    for i, (conf, correct) in enumerate(pairs):
        whole.add(conf, correct, 1)
        (a if i % 2 else b).add(conf, correct, 1)
    a.merge(b)
    assert a.result() == whole.result()
    assert whole.result()["n"] == 200 and sum(bin_["n"] for bin_ in whole.result()["bins"]) == 200


def test_report_and_gate_are_identical_whatever_the_chunk_size(demo_db: Path, monkeypatch) -> None:
    with Store(demo_db) as store:
        store.add_label("candidate", {"session_id": "S-000099", "evaluator": "authorization_fabrication",
                                      "verdict": "pass"}, reviewer="r")
        store.add_label("candidate", {"session_id": "S-000010", "tier": 1, "correct": False}, reviewer="r")
        whole = (build_report(store, "candidate", by="intent").to_json(),
                 run_gate(store, "candidate", baseline="baseline").to_json())
        kinds = {k for (k,) in store.conn.execute("SELECT kind FROM frame_cache WHERE run = 'candidate'")}
        assert len([k for k in kinds if k.startswith("chunks:100000:")]) == 2  # the first pass left snapshots …
        again = (build_report(store, "candidate", by="intent").to_json(),
                 run_gate(store, "candidate", baseline="baseline").to_json())
        assert again == whole  # … and reading them changes nothing
        monkeypatch.setattr(chunks_module, "CHUNK_ROWS", 7)
        assert len(list(store.run_chunks("candidate"))) > 40
        cut = (build_report(store, "candidate", by="intent").to_json(),
               run_gate(store, "candidate", baseline="baseline").to_json())
    assert cut == whole


def test_chunks_apply_reviewers_verdicts_as_each_sessions_reviewed_verdicts_do(demo_db: Path) -> None:
    """The masks the failures list, reports, gates and compare count are `ReviewedVerdict.effective` over a whole
    run: for every session and evaluator, the same answer as the session's own records."""
    from cstui.reviewed import reviewed

    labels = [("S-000099", "authorization_fabrication", "pass"), ("S-000001", "authorization_fabrication", "fail"),
              ("S-000118", "authorization_fabrication", "pass"), ("S-000118", "authorization_fabrication", "fail"),
              ("S-000002", "citation_validity", "fail"), ("S-000002", "citation_validity", "pass"),
              ("S-000006", "citation_validity", "fail")]  # the newest of each pair counts; S-000006's is n/a
    with Store(demo_db) as store:
        for session_id, evaluator, verdict in labels:
            store.add_label("candidate", {"session_id": session_id, "evaluator": evaluator, "verdict": verdict},
                            reviewer="r")
        bits = store.verdict_bits("candidate")
        chunks = pl.concat(store.run_chunks("candidate", rows=50))
        records = {session_id: {r.evaluator: r for r in reviewed(store.session_results("candidate", session_id),
                                                                store.labels("candidate", session_id))}
                   for session_id in chunks["session_id"]}
    checked = overridden = 0
    for row in chunks.iter_rows(named=True):
        for name, b in bits.items():
            r = records[row["session_id"]].get(name)
            applies, fails = bool(row[f"a{b.word}"] & b.mask), bool(row[f"f{b.word}"] & b.mask)
            assert (None if not applies else not fails) == (None if r is None else r.effective), (row["session_id"], name)
            assert bool(row[f"mf{b.word}"] & b.mask) == (r is not None and r.machine is False)  # the machine's, kept
            checked += 1
            overridden += r is not None and r.overridden
    assert checked > 5000 and overridden == 3  # S-000099, S-000001, S-000006; S-000118 and S-000002 confirm the machine


def test_chunks_of_a_few_columns_equal_those_columns_of_whole_chunks(demo_db: Path) -> None:
    """`columns` narrows what a reader holds, not what it sees: reviewers' changes still apply, whether the chunks
    come from rows (first pass) or from their snapshots (second)."""
    wanted = ("session_id", "confidence", "resolved")
    with Store(demo_db) as store:
        store.add_label("candidate", {"session_id": "S-000010", "tier": 1, "correct": False}, reviewer="r")
        narrow = [pl.concat(store.run_chunks("candidate", columns=wanted)) for _ in range(2)]
        whole = pl.concat(store.run_chunks("candidate"))
    for frame in narrow:
        assert "started_at" not in frame.columns and "n_spans" not in frame.columns
        assert frame.equals(whole.select(frame.columns))
        changed = frame.filter(pl.col("session_id") == "S-000010")
        assert changed["tier"].to_list() == [1] and changed["correct"].to_list() == [False]


def _native(session_id: str, i: int) -> dict:
    return {"schema": "cstui.session/v1", "session_id": session_id, "intent": ["refund_request", "billing_dispute"][i % 2],
            "channel": "chat", "turns": [{"role": "customer", "text": f"question {i}"},
                                         {"role": "assistant", "text": "answer", "confidence": round(0.1 * (i % 10), 1)}]}


def _import(store: Store, tmp_path: Path, run: str, ids: list[str], mode: str = "create") -> None:
    from cstui.ingest import import_files

    src = tmp_path / f"{run}-{ids[0]}.jsonl"
    src.write_text("".join(orjson.dumps(_native(s, i)).decode() + "\n" for i, s in enumerate(ids)))
    import_files(store, [src], run, mode=mode)


def test_chunks_read_the_masks_of_their_own_sessions_in_every_word(tmp_path: Path) -> None:
    """Masks are read by sid range beside each chunk's session columns: the run's sessions interleave with another
    run's, some have no verdict at all, and 70 evaluators fill two mask words. Every bit must land on its session."""
    with Store(tmp_path / "t.db") as store:
        _import(store, tmp_path, "a", ["A-1", "A-2", "A-3"])
        _import(store, tmp_path, "b", ["B-1", "B-2"])
        _import(store, tmp_path, "a", ["A-4", "A-5"], mode="append")
        sid = dict(store.conn.execute("SELECT session_id, id FROM sessions"))
        evaluators = [f"e{n:02d}" for n in range(70)]
        expected: dict[tuple[str, str], bool | None] = {}
        rows = []
        for s in ("A-1", "A-3", "A-5", "B-1", "B-2"):  # are never evaluated
            for n, ev in enumerate(evaluators):
                if s.startswith("A") and (n + int(s[-1])) % 3 == 0:
                    continue  # and not every evaluator judges every session
                passed = None if n % 5 == 0 else (n + len(s) + int(s[-1])) % 2 == 0
                rows.append(VerdictRow(sid[s], ev, "1", None if passed is None else int(passed), None, None, "", "[]",
                                       None))
                expected[(s, ev)] = passed
        for run in ("a", "b"):
            with store.results_writer(run) as write:
                write([r for r in rows if r.sid in {sid[s] for s in sid if s[0] == run.upper()}])
        bits = store.verdict_bits("a")
        assert {b.word for b in bits.values()} == {0, 1}
        for size in (2, None):
            for _ in range(2):  # from rows, then from the snapshots
                chunks = pl.concat(store.run_chunks("a", rows=size))
                assert chunks["session_id"].to_list() == ["A-1", "A-2", "A-3", "A-4", "A-5"]
                for row in chunks.iter_rows(named=True):
                    for ev, b in bits.items():
                        present = bool(row[f"p{b.word}"] & b.mask)
                        applies = bool(row[f"a{b.word}"] & b.mask)
                        failed = bool(row[f"f{b.word}"] & b.mask)
                        want = expected.get((row["session_id"], ev), "absent")
                        got = "absent" if not present else None if not applies else not failed
                        assert got == want, (row["session_id"], ev)


def test_an_import_snapshots_its_sessions_and_an_evaluation_keeps_them(demo_db: Path, cli, tmp_path: Path) -> None:
    """Right after an import its session columns and drafts are snapshotted for the run's sessions_version; an
    evaluation changes only the masks, so the first report after it reads them instead of every session row, and
    says the same as a report built from rows. An append changes the sessions: the snapshots no longer count."""
    with Store(tmp_path / "fresh.db") as store:
        _import(store, tmp_path, "r", ["R-1", "R-2"])
        kinds = {k for (k,) in store.conn.execute("SELECT kind FROM frame_cache")}
    parts = sorted(k for k in kinds if k.startswith("sessions:"))
    assert len(parts) == 2 and parts[1] == f"{parts[0]}:0" and "drafts:2" in kinds  # one part and its count
    with Store(demo_db) as store:
        version = store.conn.execute("SELECT sessions_version FROM runs WHERE name = 'candidate'").fetchone()[0]
    assert cli("eval", "--run", "candidate", "--evaluator", "pii_leak", "--db", demo_db).code == 0
    with Store(demo_db) as store:
        assert store.conn.execute("SELECT sessions_version FROM runs WHERE name = 'candidate'").fetchone()[0] == version
        store.conn.execute("DELETE FROM frame_cache WHERE kind LIKE 'chunks:%'")
        read_parts: list[str] = []
        store.conn.set_trace_callback(lambda sql: read_parts.append(sql) if "FROM sessions WHERE run" in sql else None)
        from_parts = build_report(store, "candidate").to_json()
        store.conn.set_trace_callback(None)
        assert not read_parts  # the session columns came from the import's snapshots
        store.conn.execute("DELETE FROM frame_cache")
        assert build_report(store, "candidate").to_json() == from_parts
        _import(store, tmp_path, "candidate", ["Z-1"], mode="append")
        chunks = pl.concat(store.run_chunks("candidate"))
    assert chunks["session_id"][-1] == "Z-1"


def test_the_session_parts_an_import_writes_are_those_its_rows_give(tmp_path: Path, monkeypatch) -> None:
    """The import snapshots each chunk's session columns from the rows it inserts, cut where the chunks are cut
    (20 sessions in chunks of 7: 7, 7, 6, across one insert batch); a report reads them as if built from rows."""
    monkeypatch.setattr(chunks_module, "CHUNK_ROWS", 7)
    with Store(tmp_path / "t.db") as store:
        _import(store, tmp_path, "r", [f"R-{i:02d}" for i in range(20)])
        kind = chunks_module.session_parts_kind(7)
        assert store.conn.execute("SELECT data FROM frame_cache WHERE kind = ?", (kind,)).fetchone()[0] == b"3"
        imported = store.conn.execute("SELECT intent, confidence FROM sessions WHERE session_id = 'R-03'").fetchone()
        store.conn.execute("UPDATE sessions SET intent = NULL, confidence = NULL WHERE session_id = 'R-03'")
        from_import = pl.concat(store.run_chunks("r"))  # the snapshot, not the rows: R-03 as imported
        store.conn.execute("UPDATE sessions SET intent = ?, confidence = ? WHERE session_id = 'R-03'", imported)
        store.conn.execute("DELETE FROM frame_cache")
        from_rows = pl.concat(store.run_chunks("r"))
    assert from_import.height == 20 and from_import.equals(from_rows)
