"""TUI smoke: the app opens on a database and lists its runs."""

from textual.widgets import DataTable

from cstui.app import CstuiApp


async def test_runs_screen_lists_runs(demo_db):
    app = CstuiApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#runs", DataTable)
        assert table.row_count == 3
        assert [str(table.get_row_at(i)[0]) for i in range(3)] == ["baseline", "candidate", "assist-prod"]
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "RunsScreen"
