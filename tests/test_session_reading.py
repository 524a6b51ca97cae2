"""Reading a real agent conversation on the session screen (issue 36, item 1): the tool calls appear in the
transcript where they happened, with their arguments and how they ended; raw JSON results read as JSON, folded."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuikit import settle

from cstui.app import create_app

TAU = Path(__file__).parent / "data" / "validation" / "taubench" / "gpt-4o-airline-even-tasks.json"


@pytest.fixture(scope="module")
def tau_db(tmp_path_factory):
    from conftest import run_cli

    db = tmp_path_factory.mktemp("tau") / "tau.db"
    assert run_cli("import", TAU, "--run", "tau", "--db", db).code == 0
    return db


async def test_tool_calls_show_inline_with_their_arguments_and_results(tau_db):
    from cstui.widgets.transcript import TurnView

    app = create_app(tau_db, run="tau", session="task-14-trial-1")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        calling = str(app.screen.query_one("#turn-4", TurnView).render())
        assert "(empty)" not in calling
        assert "⚙ get_reservation_details" in calling and '"reservation_id": "YAX4DR"' in calling and "ok" in calling
        result = str(app.screen.query_one("#turn-5", TurnView).render())
        assert '\n  "reservation_id": "YAX4DR",' in result  # pretty JSON, one key a line
        assert "more characters: select its span" in result  # folded: the span pane holds it whole


async def test_the_reference_panel_marks_each_expected_action_and_opens_from_the_keyboard(tau_db):
    from textual.widgets import Collapsible

    from cstui.triage import reference_steps

    app = create_app(tau_db, run="tau", session="task-14-trial-1")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        steps = reference_steps(app.screen.view.session)
        assert [s.status for s in steps].count("done") == 4 and [s.status for s in steps].count("differently") == 1
        panel = app.screen.query_one("#reference", Collapsible)
        assert panel.collapsed and "4 done, 1 differently, 0 missed · reward 0" in panel.title
        await pilot.press("t")
        await settle(pilot)
        assert not panel.collapsed
        body = str(app.screen.query_one("#reference-body").render())
        assert "instruction" in body and "✓ get_reservation_details" in body and "called with other arguments" in body
        system = app.screen.query_one("#system-0", Collapsible)
        assert system.collapsed
        await pilot.press("s")
        await settle(pilot)
        assert not system.collapsed


async def test_o_sends_the_focused_text_to_the_pager_made_inert(tau_db, tmp_path, monkeypatch):
    """`o` hands the transcript (or the focused span, or verdict) to $PAGER; a trace's escape sequences never
    reach it."""
    import os
    import stat

    got = tmp_path / "paged.txt"
    pager = tmp_path / "pager.sh"
    pager.write_text(f"#!/bin/sh\ncat \"$1\" > {got}\n")
    pager.chmod(pager.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PAGER", str(pager))
    app = create_app(tau_db, run="tau", session="task-14-trial-1")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.query_one("#transcript").focus()
        await pilot.press("o")
        await settle(pilot)
    text = got.read_text()
    assert "#4 assistant" in text and "⚙ get_reservation_details" in text and "\x1b" not in text
    assert os.path.exists(pager)


async def test_without_a_pager_o_opens_a_full_screen_viewer(tau_db, monkeypatch):
    from cstui.screens.session import TextViewer

    monkeypatch.delenv("PAGER", raising=False)
    app = create_app(tau_db, run="tau", session="task-14-trial-1")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.query_one("#transcript").focus()
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, TextViewer) and "get_reservation_details" in app.screen.text
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, TextViewer)


async def test_E_exports_the_evidence_of_the_sessions_the_filter_shows(demo_db, tmp_path, monkeypatch):
    import json

    from cstui.widgets.failure_table import FailureTable

    monkeypatch.setenv("CSTUI_EXPORT_DIR", str(tmp_path))
    from cstui.triage import FailureFilter

    app = create_app(demo_db, run="candidate", failures=FailureFilter())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("t")  # one tier: a filter, so not every failing session
        await settle(pilot)
        shown = set(app.screen.query_one(FailureTable).visible_session_ids())
        await pilot.press("E")
        await settle(pilot, 0.5)
    files = list(tmp_path.glob("cstui-evidence-candidate-*.jsonl"))
    assert len(files) == 1
    rows = [json.loads(line) for line in files[0].read_text().splitlines()]
    ids = {r["session_id"] for r in rows if r.get("session_id")}
    assert shown and ids == shown  # the filter's sessions, every one of them, and no other
    assert all(r.get("evaluator") for r in rows if r.get("session_id"))


async def test_slash_finds_in_the_transcript_highlights_and_n_steps_through_the_hits(tau_db):
    from cstui.widgets.transcript import TurnView

    app = create_app(tau_db, run="tau", session="task-14-trial-1")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash")
        await pilot.press(*"Noah")
        await pilot.press("enter")
        await settle(pilot)
        needle, hits, at = screen._find
        assert needle == "Noah" and len(hits) >= 2 and at == 0 and hits[0] > 0
        first = screen.query_one(f"#turn-{hits[0]}", TurnView).content
        assert any("reverse" in str(span.style) for span in first.spans)  # highlighted
        assert "1 of" in screen.sub_title
        await pilot.press("n")
        await settle(pilot)
        assert screen._find[2] == 1 and screen.session_id == "task-14-trial-1"  # a hit, not the next session
        await pilot.press("N")
        await settle(pilot)
        assert screen._find[2] == 0
        await pilot.press("escape")  # ends the find; the screen stays
        await settle(pilot)
        assert screen._find[0] == "" and app.screen is screen


async def test_a_flipped_session_opens_beside_its_baseline_from_the_compare_screen(demo_db):
    """compare → a rule's flipped sessions → one of them → b: both runs' transcripts and verdicts, changes marked."""
    from textual.widgets import DataTable

    from cstui.screens.side_by_side import SideBySideScreen

    app = create_app(demo_db, run="candidate", baseline="baseline")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        rules = app.screen.query_one("#rules", DataTable)
        flipped = next(r for r in app.screen.gate.rules if r.flipped)
        rules.move_cursor(row=rules.get_row_index(flipped.name))
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "FailuresScreen"
        await pilot.press("enter")
        await settle(pilot)
        sid = app.screen.view.session.session_id
        assert sid in flipped.flipped
        await pilot.press("b")
        await settle(pilot, 0.3)
        screen = app.screen
        assert isinstance(screen, SideBySideScreen)
        assert screen.query("#left TurnView") and screen.query("#right TurnView")
        table = screen.query_one("#diff-verdicts", DataTable)
        marked = [table.get_row_at(i) for i in range(table.row_count) if str(table.get_row_at(i)[0]) == "≠"]
        assert marked and any(str(row[2]) == "pass" and str(row[3]) == "FAIL" for row in marked)
