"""WelcomeScreen: shown when `cstui` finds no database; offers to build the demo."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, LoadingIndicator, Static

from cstui.screens import data
from cstui.screens.data import DatabaseReady


class WelcomeScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("d", "build_demo", "Build the demo"), Binding("q", "app.quit", "Quit")]
    DEFAULT_CSS = """
    WelcomeScreen Vertical { width: 80; height: auto; border: round $accent; padding: 1 2; }
    WelcomeScreen LoadingIndicator { display: none; height: 3; }
    WelcomeScreen LoadingIndicator.busy { display: block; }
    """

    def __init__(self, missing: Path, demo_path: Path) -> None:
        super().__init__()
        self.missing = missing
        self.demo_path = demo_path

    def compose(self) -> ComposeResult:
        yield Header()
        with Center(), Vertical():
            yield Static(Text.assemble(
                ("No database at ", ""), (str(self.missing), "bold"), ".\n\n",
                "Press d to build the demo database (two eval runs of a support assistant and 28 days of "
                "production draft-assist traffic) at ", (str(self.demo_path), "bold"), " and open it.\n\n",
                "Or quit (q) and import your own data: cstui import sessions.jsonl --run NAME --kb kb.jsonl",
            ), id="message")
            yield LoadingIndicator()
        yield Footer()

    def action_build_demo(self) -> None:
        self.query_one(LoadingIndicator).add_class("busy")
        self.query_one("#message", Static).update(Text(f"building the demo at {self.demo_path}…"))
        self.build()

    def build(self) -> None:
        path = self.demo_path

        def work() -> DatabaseReady:
            from cstui.demo import build_demo

            build_demo(path)
            return DatabaseReady(path)

        data.run_in_thread(self, "demo", work)
