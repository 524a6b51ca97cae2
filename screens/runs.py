"""RunsScreen: every run in the database with its size and date; the reviewer's starting point."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cstui.store import Store
from cstui.textsafe import inert


class RunsScreen(Screen[None]):
    def __init__(self, store: Store):
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Runs", classes="title")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        table.add_columns("run", "sessions", "created", "source")
        for run in self.store.runs():
            table.add_row(inert(run["name"], keep_newlines=False), f"{run['n_sessions']:,}", run["created_at"],
                          inert(run["source_format"] or "", keep_newlines=False), key=run["name"])
        table.focus()
