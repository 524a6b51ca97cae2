"""The reviewer's path through the TUI, driven by keys with Textual's Pilot, asserting on widgets and on
what was stored."""

from __future__ import annotations

import orjson
from textual.widgets import DataTable, SelectionList
from tuikit import drill, settle

from cstui.app import create_app
from cstui.metrics import build_report
from cstui.store import Store
from cstui.triage import COLUMNS, FailureFilter
from cstui.widgets.failure_table import FailureTable

POLICY_T3 = {"S-000091", "S-000196", "S-000199", "S-000223", "S-000235", "S-000238", "S-000267", "S-000306"}


async def test_gate_rule_to_session_relabel_and_rerun(demo_db):
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "DashboardScreen"
        banner = str(app.screen.query_one("#banner").render())
        assert "gate FAILED" in banner
        gate = app.screen.query_one("#gate", DataTable)
        gate.move_cursor(row=gate.get_row_index("policy_claims.tier_3"))
        await pilot.press("enter")
        await settle(pilot)

        assert type(app.screen).__name__ == "FailuresScreen"
        table = app.screen.query_one(FailureTable)
        assert set(table.visible_session_ids()) == POLICY_T3
        assert "rule policy_claims.tier_3" in str(app.screen.query_one("#filter").render())

        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "SessionDetailScreen"
        assert app.screen.session_id == "S-000091"
        verdicts = app.screen.query_one("#verdicts", DataTable)
        verdicts.move_cursor(row=verdicts.get_row_index("policy_grounding"))
        await pilot.press("enter")
        await pilot.pause()
        evidence = app.screen.query_one("#turn-1")
        assert evidence.has_class("evidence")
        assert "$100" in str(evidence.render())
        assert app.screen.query_one("#spans").cursor_node is not None

        await pilot.press("l")
        await pilot.pause()
        assert type(app.screen).__name__ == "RelabelScreen"
        await pilot.press("ctrl+f")  # "false alarm": verdict pass, reason false_alarm
        await pilot.pause()
        marks = [str(button.render())[1] for button in app.screen.query("#verdict MarkedRadioButton")]
        assert marks == [" ", "●", " "]  # the chosen verdict is marked, not only coloured
        app.screen.query_one("#note").value = "amount is in the fraud KB appendix"
        await pilot.press("ctrl+s")
        await settle(pilot)
        with Store(demo_db) as store:
            labels = store.labels("candidate", "S-000091")
        assert [(x["evaluator"], x["verdict"], x["reason"], x["note"]) for x in labels] == [
            ("policy_grounding", "pass", "false_alarm", "amount is in the fraud KB appendix")]
        assert "false_alarm" in str(app.screen.query_one("#label-history").render())

        await pilot.press("n")  # next failed session in the filter, without going back
        await settle(pilot)
        assert app.screen.session_id != "S-000091"
        await pilot.press("escape")
        await settle(pilot)
        table = app.screen.query_one(FailureTable)
        assert set(table.visible_session_ids()) == POLICY_T3 - {"S-000091"}  # the label overrides the verdict
        await pilot.press("L")  # labelled: the override stays findable, machine and reviewer side by side
        assert table.visible_session_ids() == ["S-000091"]
        assert "policy_grounding (FAIL → reviewer pass)" in table.row(0)[COLUMNS.index("failed_text")]
        await pilot.press("L", "L")  # unlabelled, then any

        table.cursor = 0
        await pilot.press("space", "space")
        chosen = sorted(table.selected)
        assert len(chosen) == 2
        await pilot.press("r")
        await pilot.pause()
        assert type(app.screen).__name__ == "RerunScreen"
        picker = app.screen.query_one("#evaluators", SelectionList)
        picker.select("policy_grounding")
        await pilot.press(*"escalation_c", "space")  # type-ahead: typing a name jumps to it
        assert picker.get_option_at_index(picker.highlighted).value == "escalation_correctness"
        assert set(picker.selected) == {"policy_grounding", "escalation_correctness"}
        await pilot.pause()
        ticks = {}  # what a monochrome terminal shows of each visible option: the tick, not its colour
        for y in range(picker.size.height):
            text = picker.render_line(y).text
            if "(" in text:
                ticks[text.split("▐")[-1].split()[1]] = text.split("▌")[0].split("▐")[-1]
        assert ticks["escalation_correctness"] == "X" and len(ticks) > 5
        assert all((tick == "X") == (ev in picker.selected) for ev, tick in ticks.items()), ticks
        with Store(demo_db) as store:
            before = store.conn.execute("SELECT count(*) FROM results WHERE run = 'candidate'").fetchone()[0]
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert type(app.screen).__name__ == "FailuresScreen", [str(n.message) for n in app._notifications]
        with Store(demo_db) as store:
            after = store.conn.execute("SELECT count(*) FROM results WHERE run = 'candidate'").fetchone()[0]
            batches = store.conn.execute(
                "SELECT DISTINCT batch FROM results r JOIN sessions s ON s.id = r.sid WHERE r.run = 'candidate' "
                "AND r.current = 1 AND s.session_id IN (?, ?) AND r.evaluator = 'policy_grounding'", chosen).fetchall()
        assert after == before + 4  # 2 sessions x 2 evaluators, the old verdicts kept as history
        assert len(batches) == 1


async def test_tier_panel_hallucination_and_filters(demo_db):
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await drill(pilot, "#tier-3", "enter")
        table = app.screen.query_one(FailureTable)
        assert table.row_count > 0
        assert all(table.row(i)[1] == 3 for i in range(table.row_count))
        await pilot.press("backspace")  # clear
        total = table.row_count
        await pilot.press("slash")
        await pilot.press(*"refund")
        assert 0 < table.row_count < total
        await pilot.press("enter", "backspace", "t", "t")  # tier cycles: any → 1 → 2
        assert all(table.row(i)[1] == 2 for i in range(table.row_count))
        await pilot.press("backspace", "s", "s", "S")  # sort by tier, descending
        assert table.row(0)[1] == 3
        await pilot.press("L")  # labelled only
        assert table.row_count == 0
        assert "labeled" in str(app.screen.query_one("#filter").render())


async def test_compare_lists_flipped_sessions(demo_db):
    app = create_app(demo_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("b", "down", "c")  # baseline = first run, compare the candidate with it
        await settle(pilot)
        assert type(app.screen).__name__ == "CompareScreen"
        rules = app.screen.query_one("#rules", DataTable)
        rules.move_cursor(row=rules.get_row_index("authorization_fabrication"))
        await pilot.press("enter")
        await settle(pilot)
        table = app.screen.query_one(FailureTable)
        assert set(table.visible_session_ids()) == {"S-000099", "S-000118", "S-000128", "G-003"}


async def test_command_palette_lists_screen_actions(demo_db):
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"All failures", "Compare with baseline", "Reload"} <= set(titles)


async def test_no_database_offers_the_demo(tmp_path, monkeypatch):
    demo = tmp_path / "demo.db"
    monkeypatch.setattr("cstui.demo.demo_db_path", lambda: demo)
    app = create_app(tmp_path / "missing.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "WelcomeScreen"
        await pilot.press("d")
        await settle(pilot)
        await settle(pilot)
        assert demo.exists()
        assert type(app.screen).__name__ == "RunsScreen"
        assert app.screen.query_one("#runs", DataTable).row_count == 3


HOSTILE = {
    "markup": "[bold red]x[/] and [link=https://evil.example]click[/link]",
    "ansi": "red \x1b[31mALERT\x1b[0m and clipboard \x1b]52;c;ZXZpbA==\x07 and link \x1b]8;;https://evil\x07here\x1b]8;;\x07",
    "bidi": "invoice \u202egpj.exe\u202c zero\u200bwidth",
    "long": "A" * 5000,
}


async def test_hostile_transcript_text_renders_literally_and_inertly(tmp_path, cli):
    session = {"schema": "cstui.session/v1", "session_id": "[red]S-1[/red]", "tier": 1, "intent": "faq_billing",
               "turns": [{"role": "customer", "text": HOSTILE["markup"]},
                         {"role": "assistant", "text": HOSTILE["ansi"], "confidence": 0.9},
                         {"role": "customer", "text": HOSTILE["bidi"]},
                         {"role": "assistant", "text": HOSTILE["long"], "confidence": 0.9}],
               "spans": [{"span_id": "s1", "kind": "tool", "name": "[blink]lookup[/blink]", "turn_index": 1,
                          "status": "ok", "attributes": {"arguments": {"q": "\x1b]52;c;AAAA\x07[b]x[/b]"}}}],
               "outcome": {"correct": False}}
    src = tmp_path / "hostile.jsonl"
    src.write_bytes(orjson.dumps(session) + b"\n")
    db = tmp_path / "h.db"
    assert cli("import", src, "--run", "h", "--db", db).code == 0
    assert cli("eval", "--run", "h", "--db", db).code == 0
    app = create_app(db, run="h", session="[red]S-1[/red]")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        turns = [str(app.screen.query_one(f"#turn-{i}").render()) for i in range(4)]
        assert HOSTILE["markup"] in turns[0]  # shown literally, not styled
        assert "\x1b" not in "".join(turns) and "\x07" not in "".join(turns)
        assert "ALERT" in turns[1]
        assert "<U+202E>" in turns[2] and "<U+200B>" in turns[2]
        assert "A" * 1000 in turns[3]
        tree = app.screen.query_one("#spans")
        label = str(tree.root.children[0].label)
        assert "[blink]lookup[/blink]" in label and "\x1b" not in label
        assert "[red]S-1[/red]" in str(app.screen.query_one("#meta").render())
        svg = app.export_screenshot()
        assert "\x1b" not in svg


async def test_rerun_a_judge_from_the_session_screen(demo_db, monkeypatch):
    import json

    from judge_server import JudgeServer

    def responder(request):
        if request["messages"][0]["content"].startswith("You turn"):
            return json.dumps({"fabricated": True, "cited_claim": "refund", "grounded_in_retrieval": False,
                               "rationale": "scripted"})
        return "The refund promise is not in the policy."

    with JudgeServer(responder) as server:
        monkeypatch.setenv("CSTUI_JUDGE_MODEL", "openai/gpt-4.1-mini")
        monkeypatch.setenv("CSTUI_JUDGE_API_BASE", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        app = create_app(demo_db, run="candidate", session="S-000099")
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await pilot.pause()
            app.screen.query_one("#evaluators", SelectionList).select("policy_fabrication")
            await pilot.press("ctrl+r")
            await settle(pilot)
            await settle(pilot)
            assert type(app.screen).__name__ == "SessionDetailScreen"
            verdicts = app.screen.query_one("#verdicts", DataTable)
            verdicts.move_cursor(row=verdicts.get_row_index("policy_fabrication"))
            await pilot.press("J")
            await pilot.pause()
            assert type(app.screen).__name__ == "JudgeTranscriptScreen"
            assert "The refund promise is not in the policy." in str(app.screen.query_one("Static").render())
        assert server.n_requests == 2
    with Store(demo_db) as store:
        got = next(r for r in store.session_results("candidate", "S-000099") if r["evaluator"] == "policy_fabrication")
        assert got["passed"] == 0 and got["detail"]["model"] == "openai/gpt-4.1-mini"


async def test_escape_from_a_deep_start_reaches_the_runs_screen(demo_db):
    app = create_app(demo_db, run="candidate", session="S-000099")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "DashboardScreen"
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "RunsScreen"
        assert app.screen.query_one("#runs", DataTable).row_count == 3


async def test_precision_shown_beside_verdicts_follows_relabels(demo_db):
    """Until a reviewer labels, each evaluator's precision is the held-out figure of the shipped validation set; one
    relabel of a flag as a false alarm refines it with this run's label, on the failures list and on the dashboard
    at once — it moves, and both sources stay in sight."""
    from cstui.validation import shipped_summary, trust_text

    shipped = shipped_summary()["evaluators"]["authorization_fabrication"]
    held = f"P {shipped['precision']:.2f} (held-out {shipped['precision']:.2f} of {shipped['flagged']} flags)"
    from textual.widgets import TabbedContent

    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.query_one(TabbedContent).active = "tab-evaluators"
        table = app.screen.query_one("#evaluators", DataTable)
        row = table.get_row_index("authorization_fabrication")
        assert str(table.get_row_at(row)[5]) == held
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)

        assert type(app.screen).__name__ == "FailuresScreen"
        flagged = app.screen.query_one(FailureTable).visible_session_ids()
        assert len(flagged) == 4
        trust = str(app.screen.query_one("#trust").render())
        assert f"authorization_fabrication {held}" in trust
        await pilot.press("enter")
        await settle(pilot)
        verdicts = app.screen.query_one("#verdicts", DataTable)
        row = verdicts.get_row_index("authorization_fabrication")
        assert str(verdicts.get_row_at(row)[3]) == f"{shipped['precision']:.2f} held"
        verdicts.move_cursor(row=row)
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("ctrl+f")  # false alarm
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)

        assert type(app.screen).__name__ == "FailuresScreen"
        trust = str(app.screen.query_one("#trust").render())
        import re

        found = re.search(r"authorization_fabrication (P (\d\.\d\d) \(held-out [\d.]+ of \d+ flags \+ this run 0/1\))",
                          trust)
        assert found and float(found.group(2)) < shipped["precision"], trust  # moved down, both sources shown
        text = found.group(1)
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "DashboardScreen"
        table = app.screen.query_one("#evaluators", DataTable)
        assert str(table.get_row_at(table.get_row_index("authorization_fabrication"))[5]) == text
        assert trust_text  # the one formatter every screen uses


async def test_a_failed_load_is_a_notification_not_a_crash(demo_db):
    """Worker errors go through the data layer: an unknown session says so and leaves the app running."""
    app = create_app(demo_db, run="candidate", session="S-999999")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.is_running and type(app.screen).__name__ == "DashboardScreen"
        messages = [str(n.message) for n in app._notifications]
        assert any("S-999999" in m and "cannot open session" in m for m in messages), messages


async def test_the_session_screen_opens_on_the_failing_verdicts_evidence(demo_db):
    """--session alone, 120x40: the failing verdict is selected, its whole rationale shown, the offending sentence
    highlighted by its offsets, and the failed call's arguments and error readable; Tab walks the panes."""
    app = create_app(demo_db, session="S-000099", run="candidate")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert type(screen).__name__ == "SessionDetailScreen"
        verdicts = screen.query_one("#verdicts", DataTable)
        failing = str(verdicts.coordinate_to_cell_key(verdicts.cursor_coordinate).row_key.value)
        result = screen.view.result(failing)
        assert result.machine is False
        why = str(screen.query_one("#why-text").render())
        assert " ".join(result.rationale.split()) in " ".join(why.replace("│", " ").split())  # whole, wrapped
        ev = result.evidence[0]
        turn = screen.query_one(f"#turn-{ev.turn_index}").render()
        highlighted = [turn.plain[s.start:s.end] for s in turn.spans if getattr(s.style, "reverse", False)]
        text = screen.view.session.turns[ev.turn_index].text
        assert highlighted == [text[ev.start:ev.end]]
        span = str(screen.query_one("#span-text").render())
        assert "Error: payment processor timeout" in span and '"invoice_id": "A-64868"' in span
        assert screen.query_one("#span-detail").region.height > 0 and screen.query_one("#why").region.height > 0
        order = [app.focused.id]
        for _ in range(5):
            await pilot.press("tab")
            order.append(app.focused.id)
        assert order == ["verdicts", "why", "transcript", "spans", "span-detail", "verdicts"]


async def test_enter_on_a_calibration_bin_lists_exactly_its_sessions(demo_db):
    import polars as pl
    from textual.widgets import TabbedContent

    with Store(demo_db) as store:
        sessions = store.sessions_frame("candidate")
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.query_one(TabbedContent).active = "tab-calibration"
        bins = app.screen.query_one("#calibration-bins", DataTable)
        key = "3:0.9:1.0"
        row = bins.get_row_index(key)
        n = int(str(bins.get_row_at(row)[2]))
        bins.focus()
        bins.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        shown = set(app.screen.query_one(FailureTable).visible_session_ids())
    expected = sessions.filter((pl.col("tier") == 3) & (pl.col("confidence") >= 0.9) & pl.col("correct").is_not_null())
    assert len(shown) == n == expected.height and shown == set(expected["session_id"].to_list())
    passing = [s for s in shown if s not in POLICY_T3]
    assert passing  # passing sessions are in the bin too: the drill-down is not a failures list


async def test_tier_panel_figures_and_escalation_bins_drill_to_exactly_their_sessions(demo_db):
    """u / e on a tier panel list the sessions behind its resolution and escalation figures; enter on an
    escalation-by-confidence bin lists the sessions that bin counts, escalated or not."""
    import polars as pl
    from textual.widgets import TabbedContent


    with Store(demo_db) as store:
        sessions = store.sessions_frame("candidate")
        report = build_report(store, "candidate")
    tier_3 = sessions.filter(pl.col("tier") == 3)
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        unresolved = await drill(pilot, "#tier-3", "U")
        await pilot.press("escape")
        await settle(pilot)
        escalated = await drill(pilot, "#tier-3", "E")
        await pilot.press("escape")
        await settle(pilot)
        app.screen.query_one(TabbedContent).active = "tab-escalation"
        table = app.screen.query_one("#escalation-bins", DataTable)
        row = table.get_row_index("0.9")
        n_bin, n_escalated = int(str(table.get_row_at(row)[1])), int(str(table.get_row_at(row)[2]))
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        in_bin = set(app.screen.query_one(FailureTable).visible_session_ids())
    rate = report.tiers["tier_3"].resolution_rate
    assert len(unresolved) == rate.n - rate.k > 0
    assert unresolved == set(tier_3.filter(pl.col("resolved") == False)["session_id"].to_list())  # noqa: E712
    assert len(escalated) == report.tiers["tier_3"].escalation_rate.k > 0
    assert escalated == set(tier_3.filter(pl.col("escalated"))["session_id"].to_list())
    expected = sessions.filter(pl.col("confidence") >= 0.9)
    assert len(in_bin) == n_bin == expected.height
    assert n_escalated == expected["escalated"].sum() and n_escalated < n_bin  # escalated or not, all listed


async def test_ece_rule_drills_to_the_confidently_wrong_answers_of_its_tier(demo_db):
    """Enter on a failed calibration rule lists what drives it: the tier's answers stated with confidence >= 0.7
    that were wrong, reviewers' corrections applied (S-000196's correctness is relabelled to right first)."""
    import polars as pl

    with Store(demo_db) as store:
        sessions = store.sessions_frame("candidate")
        store.add_label("candidate", {"session_id": "S-000196", "correct": True})
    wrong = set(sessions.filter((pl.col("tier") == 3) & (pl.col("confidence") >= 0.7)
                                & (pl.col("correct") == False))["session_id"].to_list())  # noqa: E712
    assert "S-000196" in wrong
    expected = wrong - {"S-000196"}
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        gate = app.screen.query_one("#gate", DataTable)
        gate.move_cursor(row=gate.get_row_index("ece.tier_3"))
        await pilot.press("enter")
        await settle(pilot)
        shown = set(app.screen.query_one(FailureTable).visible_session_ids())
        banner = str(app.screen.query_one("#filter").render())
    assert shown == expected and len(expected) >= 3
    assert "rule ece.tier_3: confident (≥ 0.70) and wrong" in banner


async def test_silent_failures_reach_the_tui_drill_plot_and_sort(demo_db):
    """d on the Tier 2 panel lists exactly its contained-but-unresolved sessions (the demo's documented silent
    failures among them); F puts the most frustrated customer first; the session screen plots the score."""
    import polars as pl

    from cstui.widgets.frustration_plot import FrustrationPlot

    with Store(demo_db) as store:
        sessions = store.sessions_frame("candidate")
        report = build_report(store, "candidate")
        scores = {sid: score for part in store.evaluator_scores("candidate", "frustration")
                  for sid, score in part.iter_rows()}
    expected = set(sessions.filter((pl.col("tier") == 2) & ~pl.col("escalated") & (pl.col("resolved") == False))  # noqa: E712
                   ["session_id"].to_list())
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        listed = await drill(pilot, "#tier-2", "D")
        assert listed == expected and len(listed) == report.tiers["tier_2"].contained_unresolved.k
        assert {"S-000010", "S-000139", "S-000222"} <= listed
        await pilot.press("backspace", "v", "F")  # clear the drill, every session, most frustrated first
        await settle(pilot)
        table = app.screen.query_one(FailureTable)
        first = table.visible_session_ids()[0]
        assert scores[next(sid for sid, s in sessions.select("sid", "session_id").iter_rows() if s == first)] \
            == max(scores.values()) > 0.45
        await pilot.press("enter")
        await settle(pilot)
        plot = app.screen.query_one("#frustration", FrustrationPlot)
        assert plot.has_class("shown") and plot.region.height > 0
        assert max(score for _, score in plot.points) == max(scores.values())


async def test_dashboard_number_keys_switch_tabs_and_a_reload_keeps_the_cursor(demo_db):
    from textual.widgets import TabbedContent

    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        assert app.screen.query_one(TabbedContent).active == "tab-hallucination"
        await pilot.press("2")
        assert app.screen.query_one(TabbedContent).active == "tab-evaluators"
        gate = app.screen.query_one("#gate", DataTable)
        gate.move_cursor(row=5)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert gate.cursor_row == 5


async def test_v_browses_every_session_with_the_same_filters(demo_db):
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await drill(pilot, "#tier-3", "enter")
        table = app.screen.query_one(FailureTable)
        failing = table.row_count
        await pilot.press("v")
        assert table.row_count == 85 > failing  # every Tier 3 session of the candidate run
        assert all(table.row(i)[1] == 3 for i in range(table.row_count))
        await pilot.press("v")
        assert table.row_count == failing


async def test_the_scrollbar_follows_the_rows_a_search_keeps(demo_db):
    """A search that keeps more rows than fit resizes the scrollbar in place (no layout), one that keeps fewer
    hides it; either way End shows the last row."""
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("v")  # every session of the run
        await settle(pilot)
        table = app.screen.query_one(FailureTable)
        assert table.row_count == 325 and table.show_vertical_scrollbar and not table.show_horizontal_scrollbar
        tier_1 = app.screen.all.view(FailureFilter(tiers=(1,), include_passing=True))
        table.set_rows(tier_1)  # 138 rows: the scrollbar stays, resized at once (no layout runs in between)
        assert table.vertical_scrollbar.window_virtual_size == table.virtual_size.height == 139
        await pilot.press("backspace", "v")
        await settle(pilot)
        await pilot.press("slash", *"S-0001")  # S-0001xx: 100 sessions, more than a screen
        await settle(pilot)
        assert table.scrollable_content_region.height < table.row_count < 325 and table.show_vertical_scrollbar
        assert table.vertical_scrollbar.window_virtual_size == table.virtual_size.height == table.row_count + 1
        await pilot.press("enter", "end")
        await settle(pilot)
        view = table.scrollable_content_region.height  # the header and the rows below it
        assert table.cursor == table.row_count - 1
        assert table.scroll_offset.y == table.max_scroll_y == table.row_count + 1 - view  # the last row shows
        assert table.render_line(view - 1).text.split()[0] == table.row(table.row_count - 1)[0]
        await pilot.press("slash", "end", "2")  # S-00012x: 10 sessions, all on one screen
        await settle(pilot)
        assert table.row_count == 10 and not table.show_vertical_scrollbar and table.scroll_offset.y == 0
