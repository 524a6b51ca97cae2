"""What a reviewer reads is about the session on screen, the verdict it names, and the machine's word beside the
reviewer's (issue 30): Pilot tests of each defect found walking the three journeys, at the sizes people use."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys

from textual.widgets import DataTable
from tuikit import screen_text, settle

from cstui.app import create_app
from cstui.store import Store


def highlighted(table: DataTable) -> str:
    return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


# 1 ---------------------------------------------------------------------------------- evidence of the session shown
async def test_after_n_the_span_pane_never_shows_the_previous_sessions_span(demo_db):
    """Failures list → a session → tab to the span tree → j j → n: what the span pane shows belongs to the new
    session (or nothing is selected), never to the one left behind."""
    from cstui.triage import FailureFilter

    ids = ["S-000099", "S-000010", "S-000087"]  # a failed call's span, then sessions whose failures have no span
    # (the list shows them in session order: end opens S-000099, and n wraps round to the other two)
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.open_failures(FailureFilter(session_ids=tuple(ids), include_passing=True))
        await settle(pilot)
        await pilot.press("end", "enter")
        await settle(pilot)
        screen = app.screen
        assert screen.session_id == "S-000099"
        screen.query_one("#spans").focus()
        await pilot.press("j", "j")
        await settle(pilot)
        before = str(screen.query_one("#span-text").render())
        assert "S-000099" in before
        for expected in ids[1:]:
            await pilot.press("n")
            await settle(pilot)
            assert screen.session_id == expected and expected in str(screen.query_one("#meta").render())
            shown = str(screen.query_one("#span-text").render())
            assert "S-000099" not in shown, shown
            spans = {s.span_id for s in screen.view.session.spans}
            ids_shown = set(re.findall(r"id (\S+)", shown))
            assert ids_shown <= spans


# 2 ---------------------------------------------------------------------------------- labels on the right criterion
async def test_the_review_queue_starts_every_session_on_its_first_criterion(demo_db):
    with Store(demo_db) as store:
        store.create_review_queue("q", "candidate", 0, None, [("S-000099", None), ("S-000087", None)])
    app = create_app(demo_db, queue="q")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        criteria = app.screen.query_one("#criteria", DataTable)
        assert "yours" in screen_text(app)  # the column a reviewer fills is on screen at 100x30
        await pilot.press("j", "j")
        assert criteria.cursor_row == 2
        await pilot.press("n")  # the next session of the queue
        await settle(pilot)
        assert app.screen.session_id == "S-000087"
        assert criteria.cursor_row == 0
        first = highlighted(criteria)
        await pilot.press("y")
        await settle(pilot)
    with Store(demo_db) as store:
        label = [lab for lab in store.labels("candidate", "S-000087") if lab["source"] == "queue"][-1]
    assert (label["evaluator"] or "(overall correctness)") == first


# 5 ---------------------------------------------------------------------------------- machine verdict and label apart
async def test_a_relabel_keeps_the_machine_verdict_beside_the_reviewers_and_the_cursor_where_it_was(demo_db):
    app = create_app(demo_db, run="candidate", session="S-000099")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        screen = app.screen
        verdicts = screen.query_one("#verdicts", DataTable)
        assert highlighted(verdicts) == "authorization_fabrication"
        row_before = verdicts.cursor_row
        await pilot.press("y")  # the reviewer: a false alarm
        await settle(pilot)
        assert highlighted(verdicts) == "authorization_fabrication" and verdicts.cursor_row == row_before
        machine, reviewer = (str(c) for c in verdicts.get_row("authorization_fabrication")[1:3])
        assert machine == "FAIL" and reviewer == "→ pass"
        why = str(screen.query_one("#why-text").render())
        assert "machine FAIL" in why and "reviewer pass" in why and "counts as PASS" in why
        assert "(reviewer: pass)" in str(screen.query_one("#meta").render())
        result = screen.view.result("authorization_fabrication")
        assert (result.machine, result.human, result.effective, result.overridden) == (False, "pass", True, True)
        await pilot.press("x")  # then confirms the failure after all: agrees with the machine
        await settle(pilot)
        assert str(verdicts.get_row("authorization_fabrication")[2]) == "✓ fail"
    with Store(demo_db) as store:
        assert [lab["verdict"] for lab in store.labels("candidate", "S-000099")] == ["pass", "fail"]


# 6, 7 ------------------------------------------------------------------------------- --session, errors, n
async def test_a_session_opened_directly_shows_the_failed_calls_error_and_n_walks_the_runs_failures(demo_db):
    from cstui.triage import FailureFilter, failures

    with Store(demo_db) as store:
        failing = failures(store, "candidate").view(FailureFilter()).session_ids()
    app = create_app(demo_db, run="candidate", session="S-000099")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "payment processor timeout" in screen_text(app)  # on screen, not below the fold
        assert f"{failing.index('S-000099') + 1}/{len(failing)} failing in run" in str(
            app.screen.query_one("#meta").render())
        await pilot.press("n")
        await settle(pilot)
        assert app.screen.session_id == failing[failing.index("S-000099") + 1]


async def test_enter_on_a_rule_without_data_says_what_to_run(demo_db):
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        gate = app.screen.query_one("#gate", DataTable)
        gate.move_cursor(row=gate.get_row_index("resolution_accuracy.tier_1"))
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DashboardScreen"
        assert any("needs an LLM judge" in str(n.message) for n in app._notifications)


async def test_the_gates_open_line_opens_exactly_the_failures(demo_db, cli):
    from cstui.cli.tui import start_failures

    out = cli("gate", "--run", "candidate", "--db", demo_db).out
    line = next(x for x in out.splitlines() if x.startswith("open the failures: "))
    assert "--failures" in line and "--rule authorization_fabrication" not in line or "--rule" in line
    with Store(demo_db) as store:
        flt = start_failures(store, "candidate", False, "authorization_fabrication")
    app = create_app(demo_db, run="candidate", failures=flt)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "FailuresScreen"
        assert set(app.screen.query_one("FailureTable").visible_session_ids()) == {
            "S-000099", "S-000118", "S-000128", "G-003"}


def test_report_piped_keeps_every_evaluator_id_and_interval_whole(demo_db):
    env = {**os.environ, "COLUMNS": "60"}
    r = subprocess.run([sys.executable, "-m", "cstui", "report", "--run", "candidate", "--db", str(demo_db)],
                       capture_output=True, text=True, env=env)
    doc = json.loads(subprocess.run([sys.executable, "-m", "cstui", "report", "--run", "candidate", "--json", "--db",
                                     str(demo_db)], capture_output=True, text=True, env=env).stdout)
    assert r.returncode == 0 and "…" not in r.stdout
    for name, ev in doc["evaluators"].items():
        line = next((x for x in r.stdout.splitlines() if f" {name} " in x), None)
        assert line is not None, name
        if ev["pass_rate"] is not None:
            assert f"[{100 * ev['ci_low']:.1f}%–{100 * ev['ci_high']:.1f}%]" in line, line


# 8 ---------------------------------------------------------------------------------- one key map
async def test_j_and_k_move_in_pickers_and_never_close_a_dialog(demo_db):
    app = create_app(demo_db, run="candidate", session="S-000099")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("K")
        await settle(pilot)
        assert type(app.screen).__name__ == "KBScreen"
        await pilot.press("k", "j")
        assert type(app.screen).__name__ == "KBScreen"  # j / k scroll; escape closes
        await pilot.press("escape")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        options = app.screen.query_one("OptionList")
        assert options.highlighted == 0
        await pilot.press("j", "j")
        assert options.highlighted == 2
        await pilot.press("k")
        assert options.highlighted == 1


async def test_home_moves_the_runs_cursor_so_b_marks_the_first_run(demo_db):
    app = create_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        runs = app.screen.query_one("#runs", DataTable)
        await pilot.press("end")
        assert runs.cursor_row == runs.row_count - 1
        await pilot.press("home")
        assert runs.cursor_row == 0
        first = highlighted(runs)
        await pilot.press("down", "b")
        await settle(pilot)
        await pilot.press("home", "b")
        await settle(pilot)
        assert first in str(app.screen.query_one("#hint").render()) or app.screen.baseline == first


async def test_help_lists_the_keys_of_the_screen_it_was_opened_from(demo_db):
    app = create_app(demo_db, run="candidate", session="S-000099")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = screen_text(app)
        assert "Keys on this screen — SessionDetail" in text and "Relabel" in text and "Judge transcript" in text
        assert "Cursor up" not in text  # Textual's generic keys are the "Everywhere" part's
        lines = [x.strip("│█ ╭╮╰╯─") for x in text.splitlines()]
        table = lines[next(i for i, x in enumerate(lines) if x.startswith("Keys on this screen")) + 1:]
        table = table[:next(i for i, x in enumerate(table) if not x)]
        for line in table:  # every row is a key then its description: a wrapped description stays in its column
            assert re.match(r"^\S+\s{2,}\S", line), line
        await pilot.press("escape")
        await pilot.press("ctrl+c")
        await settle(pilot)
        shown = " ".join(str(n.message) for n in app._notifications)
        assert "press q to quit" in shown and "[b]" not in shown


# 9 ---------------------------------------------------------------------------------- compare
async def test_compare_warns_about_two_systems_and_reads_ece_and_changes_honestly(demo_db):
    with sqlite3.connect(demo_db) as conn:
        conn.execute("UPDATE runs SET system = 'other-bot' WHERE name = 'baseline'")
    app = create_app(demo_db, run="candidate", baseline="baseline")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert type(app.screen).__name__ == "CompareScreen"
        text = screen_text(app)
        assert "different systems" in text and "other-bot" in text
        assert "-0.0" not in text
        rules = app.screen.query_one("#rules", DataTable)
        tiers = app.screen.query_one("#tiers", DataTable)
        ece_rule = [str(c) for c in rules.get_row("ece.tier_3")]
        ece_tier = str(tiers.get_row_at(2)[-1])
        assert ece_tier.startswith(ece_rule[1]) and ece_tier.endswith(ece_rule[2])  # the same baseline ECE


# 10 --------------------------------------------------------------------------------- small terminals
async def test_at_80_by_24_the_span_tree_shows_rows_and_the_footer_keeps_help_and_quit(demo_db):
    app = create_app(demo_db, run="candidate", session="S-000099")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one("#spans")
        assert tree.content_region.height >= 3
        assert "failed: authorization_fabrication" in screen_text(app)
        footer = screen_text(app).splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer
