"""The Textual application shell: opens the store, pushes the first screen, owns global key bindings.

Screens live in `cstui.screens`; each has one job and talks to the store API only.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from cstui.store import Store


class CstuiApp(App[None]):
    TITLE = "cstui"
    SUB_TITLE = "customer-service LLM evaluation"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(self, db_path: Path, run: str | None = None, session: str | None = None):
        super().__init__()
        self.db_path = db_path
        self.start_run = run
        self.start_session = session
        self.store = Store(db_path)

    def on_mount(self) -> None:
        from cstui.screens.runs import RunsScreen

        self.sub_title = str(self.db_path)
        self.push_screen(RunsScreen(self.store))

    def action_help(self) -> None:
        from cstui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def on_unmount(self) -> None:
        self.store.close()


def run_app(db_path: Path, run: str | None = None, session: str | None = None) -> int:
    CstuiApp(db_path, run=run, session=session).run()
    return 0
