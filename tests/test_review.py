"""Review queues: reproducible stratified samples, stepped through in the TUI with single-key verdicts."""

from __future__ import annotations

import json
from collections import Counter

from textual.widgets import DataTable
from tuikit import settle

from cstui.app import create_app
from cstui.review import allocate
from cstui.store import Store


def test_allocation_is_proportional_and_exact():
    assert allocate({"a": 138, "b": 102, "c": 85}, 20) == {"a": 9, "b": 6, "c": 5}  # 8.49, 6.28, 5.23
    assert sum(allocate({"a": 1, "b": 50}, 10).values()) == 10
    assert allocate({"a": 1, "b": 2}, 10) == {"a": 1, "b": 2}  # never more than a stratum holds


def test_queue_is_reproducible_from_its_seed_and_stratified(demo_db, cli):
    one = json.loads(cli("review", "--run", "candidate", "--sample", "20", "--stratify", "tier", "--seed", "7",
                         "--name", "q1", "--db", demo_db, "--json").out)
    two = json.loads(cli("review", "--run", "candidate", "--sample", "20", "--stratify", "tier", "--seed", "7",
                         "--name", "q2", "--db", demo_db, "--json").out)
    other = json.loads(cli("review", "--run", "candidate", "--sample", "20", "--stratify", "tier", "--seed", "8",
                           "--name", "q3", "--db", demo_db, "--json").out)
    ids = [i["session_id"] for i in one["items"]]
    assert ids == [i["session_id"] for i in two["items"]] and len(set(ids)) == 20
    assert ids != [i["session_id"] for i in other["items"]]
    assert Counter(i["stratum"] for i in one["items"]) == {"1": 9, "2": 6, "3": 5}
    assert cli("review", "--run", "candidate", "--sample", "5", "--name", "q1", "--db", demo_db).code == 2
    listing = cli("review", "--run", "candidate", "--db", demo_db).out
    assert "q1" in listing and "0/20 reviewed" in listing


async def test_tui_steps_through_a_queue_with_single_key_verdicts(demo_db, cli):
    cli("review", "--run", "candidate", "--sample", "6", "--stratify", "tier", "--seed", "3", "--name", "q",
        "--db", demo_db)
    app = create_app(demo_db, queue="q")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "ReviewScreen"
        assert "0/6 reviewed" in str(app.screen.query_one("#progress").render())
        first = app.screen.session_id
        criteria = app.screen.query_one("#criteria", DataTable)
        criteria.move_cursor(row=criteria.get_row_index("(overall correctness)"))
        await pilot.press("x")  # overall correctness: not correct
        await pilot.pause()
        assert "1/6 reviewed" in str(app.screen.query_one("#progress").render())
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert app.screen.session_id != first
        criteria.move_cursor(row=criteria.get_row_index("(overall correctness)"))
        await pilot.press("y")
        await pilot.pause()
        assert "2/6 reviewed" in str(app.screen.query_one("#progress").render())
    with Store(demo_db) as store:
        labels = [lab for lab in store.labels("candidate") if lab["source"] == "queue"]
        assert [(lab["session_id"], lab["correct"]) for lab in labels][0] == (first, 0)
        assert len(labels) == 2
        assert store.review_queues("candidate")[0]["reviewed"] == 2


async def test_queue_item_shows_machine_verdicts_reasons_spans_and_takes_a_note(demo_db):
    """A reviewer labelling a queue item sees what the machine said and why, the span tree, and can note why."""
    from cstui.widgets.span_tree import SpanTree

    with Store(demo_db) as store:  # a queue holding one session with a failed evaluator and tool spans
        store.create_review_queue("q", "candidate", 0, None, [("S-000099", None)])
    app = create_app(demo_db, queue="q")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        screen = app.screen
        criteria = screen.query_one("#criteria", DataTable)
        applicable = [r for r in screen.view.results if r.machine is not None]
        assert criteria.row_count == len(applicable) + 1
        assert [str(c.label) for c in criteria.columns.values()] == ["machine", "yours", "criterion"]
        failed = next(r for r in applicable if r.machine is False)
        assert criteria.coordinate_to_cell_key(criteria.cursor_coordinate).row_key.value == failed.evaluator
        assert str(criteria.get_row(failed.evaluator)[0]) == "FAIL"
        assert failed.rationale[:40] in str(screen.query_one("#why").render())
        assert len(screen.query_one("#spans", SpanTree).nodes) == len(screen.view.session.spans) > 0
        await pilot.press("a", *"promise not in policy", "enter", "y")
        await pilot.pause()
        await settle(pilot)
    with Store(demo_db) as store:
        label = next(lab for lab in store.labels("candidate") if lab["source"] == "queue")
    assert (label["evaluator"], label["verdict"], label["note"]) == (failed.evaluator, "pass", "promise not in policy")


def test_evidence_export_carries_every_human_judgement_including_the_queues(demo_db, cli, tmp_path):
    import orjson

    from cstui.store import Store

    with Store(demo_db) as store:
        store.add_label("candidate", {"session_id": "S-000001", "source": "queue", "correct": False,
                                      "note": "answered the wrong plan"}, reviewer="ana")
        store.add_label("candidate", {"session_id": "S-000002", "source": "queue", "evaluator": "session_quality.compliance",
                                      "verdict": "fail"}, reviewer="ana")
    out = tmp_path / "evidence.jsonl"
    assert cli("export", "--run", "candidate", "--what", "evidence", "--format", "jsonl", "--out", out,
               "--db", demo_db).code == 0
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    labels = [r for r in rows if r["record"] == "label"]
    assert {(r["session_id"], r["source"], r["human_reviewer"]) for r in labels} >= {
        ("S-000001", "label (queue)", "ana"), ("S-000002", "label (queue)", "ana")}
    first = next(r for r in labels if r["session_id"] == "S-000001")
    assert "correct=" in first["rationale"]
    assert first["human_note"] == "answered the wrong plan"
