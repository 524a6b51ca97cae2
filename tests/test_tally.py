"""Reports and gates read a run in bounded chunks and add up order-free tallies: how the run is cut must not
change one digit, and reviewers' overrides must count exactly as they do in the whole-run frames."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cstui.gates import run_gate
from cstui.metrics import build_report
from cstui.store import Store
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


def test_chunks_apply_reviewers_verdicts_as_the_whole_run_frame_does(demo_db: Path) -> None:
    with Store(demo_db) as store:
        bits = store.verdict_bits("candidate")
        flag = bits["authorization_fabrication"]
        store.add_label("candidate", {"session_id": "S-000099", "evaluator": "authorization_fabrication",
                                      "verdict": "pass"}, reviewer="r")
        store.add_label("candidate", {"session_id": "S-000001", "evaluator": "authorization_fabrication",
                                      "verdict": "fail"}, reviewer="r")
        chunks = pl.concat(store.run_chunks("candidate", rows=50))
        frame = store.results_frame("candidate").filter(pl.col("evaluator") == "authorization_fabrication")
    expected = dict(frame.select("sid", "passed").iter_rows())
    applies = (chunks[f"a{flag.word}"] & flag.mask) != 0
    failed = (chunks[f"f{flag.word}"] & flag.mask) != 0
    got = {sid: (None if not a else not f) for sid, a, f in zip(chunks["sid"], applies, failed, strict=True)
           if sid in expected}
    assert got == expected
    by_id = dict(zip(chunks["session_id"], zip(applies, failed, strict=True), strict=True))
    assert by_id["S-000099"] == (True, False) and by_id["S-000001"] == (True, True)
    machine = dict(zip(chunks["session_id"], (chunks[f"mf{flag.word}"] & flag.mask) != 0, strict=True))
    assert machine["S-000099"] is True  # the machine's own verdict is kept beside the reviewer's


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
