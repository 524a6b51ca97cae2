"""The failures table the review UI filters at every keystroke: compact rows pointing at a few tags of failing
evaluators. Checked against a reference built independently from the run's verdict rows (reviewers' verdicts
applied), for filters, text search and sorting, and for any chunking of the run."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cstui.store import Store
from cstui.store import chunks as chunks_module
from cstui.triage import COLUMNS, FailureFilter, failures, narrowest_int

RUN = "candidate"


def reference(store: Store) -> pl.DataFrame:
    """session_id, tier, intent, channel, confidence and the sorted failing evaluators of every session, from the
    per-verdict rows (not the masks the table is built from)."""
    from cstui.reviewed import effective

    sessions = store.sessions_frame(RUN).select("sid", "session_id", "tier", "intent", "channel", "confidence")
    human = {(lab["sid"], lab["evaluator"]): lab["verdict"] for lab in store.reviewer_verdicts(RUN)}
    machine = store.results_frame(RUN).select("sid", pl.col("evaluator").cast(pl.String), "passed").iter_rows()
    failed = (pl.DataFrame([(sid, e) for sid, e, passed in machine if effective(passed, human.get((sid, e))) is False],
                           schema={"sid": pl.Int64, "evaluator": pl.String}, orient="row")
              .group_by("sid").agg(pl.col("evaluator").sort().alias("failed")))
    return (sessions.join(failed, on="sid", how="left")
            .with_columns(pl.col("failed").fill_null([])).sort("sid"))


def shown_ids(store: Store, failure_filter: FailureFilter, **sort) -> list[str]:
    return failures(store, RUN).view(failure_filter, **sort).session_ids()


def ids(frame: pl.DataFrame) -> list[str]:
    return frame["session_id"].to_list()


@pytest.fixture
def relabelled(demo_db: Path) -> Path:
    """The demo with a reviewer's verdicts: one machine failure overridden to pass, one pass overridden to fail."""
    with Store(demo_db) as store:
        ref = reference(store)
        failing = ref.filter(pl.col("failed").list.len() == 1).row(0, named=True)
        passing = ref.filter(pl.col("failed").list.len() == 0).row(0, named=True)
        store.add_label(RUN, {"session_id": failing["session_id"], "evaluator": failing["failed"][0],
                              "verdict": "pass"}, reviewer="r")
        store.add_label(RUN, {"session_id": passing["session_id"], "evaluator": "policy_grounding",
                              "verdict": "fail"}, reviewer="r")
    return demo_db


def test_filters_keep_exactly_the_sessions_the_verdicts_say(relabelled: Path) -> None:
    with Store(relabelled) as store:
        ref = reference(store)
        failing = ref.filter(pl.col("failed").list.len() > 0)
        assert failing.height and failing.height < ref.height
        assert shown_ids(store, FailureFilter()) == ids(failing)
        assert shown_ids(store, FailureFilter(include_passing=True)) == ids(ref)
        assert shown_ids(store, FailureFilter(tiers=(3,))) == ids(failing.filter(pl.col("tier") == 3))
        assert shown_ids(store, FailureFilter(evaluators=("policy_grounding",))) == ids(
            failing.filter(pl.col("failed").list.contains("policy_grounding")))
        intent = failing["intent"].drop_nulls()[0]
        assert shown_ids(store, FailureFilter(intents=(intent,))) == ids(failing.filter(pl.col("intent") == intent))
        assert shown_ids(store, FailureFilter(intents=("no such intent",))) == []
        assert failures(store, RUN).failing_count == failing.height


def test_text_matches_ids_in_any_case_intents_and_evaluator_names(relabelled: Path) -> None:
    with Store(relabelled) as store:
        failing = reference(store).filter(pl.col("failed").list.len() > 0)
        one = failing["session_id"][3]
        assert one in shown_ids(store, FailureFilter(text=one.lower()))
        assert shown_ids(store, FailureFilter(text="POLICY_GROUND")) == ids(
            failing.filter(pl.col("failed").list.contains("policy_grounding")))
        intent = failing["intent"].drop_nulls()[0]
        assert shown_ids(store, FailureFilter(text=intent[1:-1].upper())) == ids(failing.filter(
            pl.col("intent").str.contains(intent[1:-1], literal=True)
            | pl.col("failed").list.join(",").str.contains(intent[1:-1], literal=True)
            | pl.col("session_id").str.to_lowercase().str.contains(intent[1:-1], literal=True)))
        hits = (failing["session_id"][0],)
        assert shown_ids(store, FailureFilter(text="zzz nowhere", text_hits=hits)) == list(hits)


def test_reviewers_overrides_show_beside_the_machine_verdict(relabelled: Path) -> None:
    with Store(relabelled) as store:
        table = failures(store, RUN)
        labelled = table.view(FailureFilter(label_state="labeled"))
        texts = [row[COLUMNS.index("failed_text")] for row in labelled.rows(0, labelled.height)]
        assert labelled.height == 2
        assert any("(FAIL → reviewer pass)" in t for t in texts)
        assert any("policy_grounding (PASS → reviewer fail)" in t for t in texts)
        assert "policy_grounding" in labelled.failed_evaluators


def test_sorting_is_stable_with_nulls_last(relabelled: Path) -> None:
    with Store(relabelled) as store:
        ref = reference(store)
        failing = ref.filter(pl.col("failed").list.len() > 0)
        assert ref["confidence"].null_count()  # some sessions state no confidence
        expected = ref.sort("confidence", descending=True, nulls_last=True, maintain_order=True)
        assert shown_ids(store, FailureFilter(include_passing=True), sort="confidence", descending=True) == ids(expected)
        by_intent = shown_ids(store, FailureFilter(), sort="intent")
        assert by_intent == ids(failing.sort("intent", nulls_last=True, maintain_order=True))


def test_the_table_is_the_same_whatever_the_chunk_size(relabelled: Path, monkeypatch) -> None:
    with Store(relabelled) as store:
        whole = failures(store, RUN).view(FailureFilter(include_passing=True))
        expected = whole.rows(0, whole.height)
    monkeypatch.setattr(chunks_module, "CHUNK_ROWS", 7)
    with Store(relabelled) as store:
        cut = failures(store, RUN).view(FailureFilter(include_passing=True))
        assert cut.rows(0, cut.height) == expected


def test_turns_and_tags_take_the_narrowest_integers_that_hold_them(relabelled: Path) -> None:
    assert [narrowest_int(n, signed=True) for n in (0, 127, 128, 32_767, 32_768, 2**31)] == [
        pl.Int8, pl.Int8, pl.Int16, pl.Int16, pl.Int32, pl.Int64]
    assert [narrowest_int(n, signed=False) for n in (255, 256, 65_535, 65_536)] == [
        pl.UInt8, pl.UInt16, pl.UInt16, pl.UInt32]
    with Store(relabelled) as store:
        table = failures(store, RUN)
        by_turns = table.view(FailureFilter(include_passing=True), sort="n_turns", descending=True)
        longest = store.sessions_frame(RUN).sort("n_turns", descending=True, maintain_order=True)
    assert table.rows.schema["n_turns"] == pl.Int8 and table.rows.schema["tag"] == pl.UInt8  # the demo's are few
    assert [r[COLUMNS.index("n_turns")] for r in by_turns.rows(0, 5)] == longest["n_turns"].head(5).to_list()


def test_a_run_no_evaluator_has_judged_lists_every_session_as_passing(tmp_path: Path, cli) -> None:
    from cstui.demo import sample_file

    db = tmp_path / "fresh.db"
    assert cli("import", sample_file("candidate.jsonl"), "--run", "fresh", "--db", db).code == 0
    with Store(db) as store:
        table = failures(store, "fresh")
        assert table.failing_count == 0 and table.view(FailureFilter()).height == 0
        every = table.view(FailureFilter(include_passing=True))
        assert every.height == store.sessions_frame("fresh").height and every.failed_evaluators == []
        assert every.rows(0, 1)[0][COLUMNS.index("failed_text")] == ""


def test_shown_ids_step_like_a_list_without_being_one(relabelled: Path) -> None:
    with Store(relabelled) as store:
        shown = failures(store, RUN).view(FailureFilter())
        ids, expected = shown.ids(), shown.session_ids()
    assert len(ids) == len(expected) and list(ids) == expected
    assert ids[0] == expected[0] and ids[-1] == expected[-1] and ids[1:3] == expected[1:3]
    assert ids.index(expected[5]) == 5 and expected[5] in ids and "nobody" not in ids
    with pytest.raises(ValueError):
        ids.index("nobody")
    with pytest.raises(IndexError):
        ids[len(expected)]


def test_narrowing_needs_the_same_filter_and_a_grown_text() -> None:
    wide = FailureFilter(tiers=(3,), text="s-0")
    assert FailureFilter(tiers=(3,), text="s-00").narrows(wide)
    assert FailureFilter(tiers=(3,), text="S-0").narrows(FailureFilter(tiers=(3,)))  # typing the first letter
    assert not FailureFilter(tiers=(2,), text="s-00").narrows(wide)  # another tier
    assert not FailureFilter(tiers=(3,), text="s-").narrows(wide)  # deleting a letter widens
    assert not FailureFilter(tiers=(3,), text="s-00", text_hits=("S-000001",)).narrows(wide)  # full-text hits join
    assert not FailureFilter(text="ΑΣΑ").narrows(FailureFilter(text="ΑΣ"))  # "ας" is not in "ασα"


def test_each_keystroke_shows_what_a_fresh_filter_shows(relabelled: Path) -> None:
    """The view built from the previous keystroke's (narrowed within its rows, or the same rows kept) equals the
    view built from scratch, whatever is typed, deleted, re-sorted or re-tiered on the way."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    with Store(relabelled) as store:
        table = failures(store, RUN)
    steps = st.lists(st.one_of(st.sampled_from("S-0001239bilngpoΣ"), st.sampled_from(["⌫", "tier", "sort"])),
                     max_size=14)

    @settings(max_examples=150, deadline=None)
    @given(steps)
    def check(keys: list[str]) -> None:
        flt, sort, shown = FailureFilter(), None, None
        for key in keys:
            if key == "⌫":
                flt = flt.with_(text=flt.text[:-1])
            elif key == "tier":
                flt = flt.with_(tiers=() if flt.tiers else (3,))
            elif key == "sort":
                sort = "confidence" if sort is None else None
            else:
                flt = flt.with_(text=flt.text + key)
            shown = table.view(flt, sort, previous=shown)
            fresh = table.view(flt, sort)
            assert shown.index.to_list() == fresh.index.to_list()
            assert shown.failed_evaluators == fresh.failed_evaluators
            assert shown.filter == flt

    check()


def test_text_found_in_the_ids_common_prefix_keeps_every_id(relabelled: Path) -> None:
    """Where every id starts "S-000", typing "s-0" matches them all without a scan; the answer is the one the
    scan gives, for text inside the prefix, across its end, and outside it."""
    from cstui.triage import Failures

    class Scanning(Failures):
        id_prefix = ""  # no shortcut: every id is searched

    with Store(relabelled) as store:
        whole = failures(store, RUN)
    rows = whole.rows.filter(pl.col("session_id").str.starts_with("S-000"))
    table, scanning = Failures(rows, whole.tags), Scanning(rows, whole.tags)
    assert table.id_prefix == "S-000" and table.height > 200
    for text in ("S", "s-0", "-00", "S-000", "s-0001", "000", "12", "x", "dispute"):
        flt = FailureFilter(text=text, include_passing=True)
        assert table.view(flt).session_ids() == scanning.view(flt).session_ids(), text
    shortcut = table.text_conditions("s-0", ())
    assert len(shortcut) == 1 and shortcut[0].meta.eq(pl.lit(True))  # the shortcut was taken
    assert not table.text_conditions("s-0001", ())[0].meta.eq(pl.lit(True))
    assert "starts_with" in str(table.text_conditions("s-0001", ())[0])  # past the prefix: a prefix test, not a scan
    assert "starts_with" not in str(table.text_conditions("s-000a", ())[0])  # a letter: its case must be ignored
    # an id that holds the prefix again, further on: "s-0001" is in it though it does not start so
    odd = rows.with_columns(session_id=pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("S-0009S-0001"))
                            .otherwise(pl.col("session_id")))
    table, scanning = Failures(odd, whole.tags), Scanning(odd, whole.tags)
    assert table.id_prefix == "S-000" and not table.id_prefix_leads
    for text in ("s-0001", "s-0009s", "s-000"):
        flt = FailureFilter(text=text, include_passing=True)
        assert table.view(flt).session_ids() == scanning.view(flt).session_ids(), text
    assert "S-0009S-0001" in table.view(FailureFilter(text="s-0001", include_passing=True)).session_ids()


def test_a_pass_a_reviewer_confirmed_does_not_fill_the_failed_column(demo_db: Path) -> None:
    """Queue reviews confirm many passes; the column lists failures and overrides only (issue 36, item 6)."""
    with Store(demo_db) as store:
        ref = reference(store)
        failing = ref.filter(pl.col("failed").list.len() == 1).row(0, named=True)
        store.add_label(RUN, {"session_id": failing["session_id"], "evaluator": "pii_leak", "verdict": "pass"},
                        reviewer="r")  # the machine passed it too
        table = failures(store, RUN)
        view = table.view(FailureFilter(text=failing["session_id"]))
        text = view.rows(0, view.height)[0][COLUMNS.index("failed_text")]
    assert failing["failed"][0] in text and "pii_leak" not in text
