"""RunsScreen: every run with its size, date and gate status; pick one, and optionally a baseline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cstui.screens import data
from cstui.screens.data import GateStatus, OpenDashboard, RunsListed
from cstui.store import Store
from cstui.textsafe import inert
from cstui.widgets.row_table import RowTable


class RunsScreen(Screen[None]):
    HELP = ("Every run in the database with its gate outcome. enter opens the run's dashboard; b makes the "
            "highlighted run the baseline the others are compared with; c compares the highlighted run with it.")
    BINDINGS: ClassVar[list[BindingType]] = [
        *data.FIRST_KEYS,
        Binding("enter", "open", "Dashboard"),
        Binding("b", "baseline", "Set as baseline"),
        Binding("c", "compare", "Compare with baseline"),
    ]
    DEFAULT_CSS = """
    RunsScreen .title { padding: 0 1; text-style: bold; }
    RunsScreen #hint { padding: 0 1; color: $text-muted; }
    """

    def __init__(self, store: Store):
        super().__init__()
        self.store = store
        self.baseline: str | None = None
        self.runs: list[str] | None = None  # names, once listed
        self.seen = False  # shown at least once: gate statuses may start

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Runs", classes="title")
        yield RowTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("enter: open dashboard · b: use as baseline · c: compare highlighted run with the baseline",
                     id="hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        table.add_column("run", key="run")
        table.add_column("sessions", key="sessions")
        table.add_column("created", key="created")
        table.add_column("system", key="system")
        table.add_column("source", key="source")
        table.add_column("gate", key="gate")
        table.add_column("baseline", key="baseline")
        table.focus()
        data.load(self, "runs", lambda store: RunsListed(store.runs()), path=self.store.path)

    @on(RunsListed)
    def _runs_listed(self, message: RunsListed) -> None:
        table = self.query_one("#runs", DataTable)
        table.clear()
        for run in message.runs:
            table.add_row(Text(inert(run["name"], keep_newlines=False)), f"{run['n_sessions']:,}",
                          run["created_at"][:16].replace("T", " "), Text(inert(run["system"] or "—")),
                          Text(inert(run["source_format"] or "", keep_newlines=False)), Text("…", style="dim"), "",
                          key=run["name"])
        self.runs = [r["name"] for r in message.runs]
        if self.seen:
            self.gate_statuses(self.runs)

    def on_screen_resume(self) -> None:
        """Gate statuses cost a metrics pass per run: compute them only once this screen is seen."""
        if not self.seen:
            self.seen = True
            if self.runs is not None:
                self.gate_statuses(self.runs)

    def gate_statuses(self, runs: list[str]) -> None:
        def fetch(store: Store) -> Iterator[GateStatus]:
            from cstui.gates import run_gate

            for run in runs:
                result = run_gate(store, run)
                yield GateStatus(run, result.passed, len(result.failed))

        data.load(self, "gate statuses", fetch, path=self.store.path)

    @on(GateStatus)
    def _gate_status(self, message: GateStatus) -> None:
        cell = (Text("pass", style="bold green") if message.passed
                else Text(f"FAIL ({message.n_failed})", style="bold red"))
        self.query_one("#runs", DataTable).update_cell(message.run, "gate", cell)

    def _highlighted(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        if (run := self._highlighted()) is not None:
            self.post_message(OpenDashboard(run, self.baseline))

    def action_baseline(self) -> None:
        run = self._highlighted()
        if run is None:
            return
        table = self.query_one("#runs", DataTable)
        if self.baseline is not None:
            table.update_cell(self.baseline, "baseline", "")
        self.baseline = None if run == self.baseline else run
        if self.baseline:
            table.update_cell(self.baseline, "baseline", Text("◆ baseline", style="bold cyan"))
            self.notify(f"baseline: {self.baseline}")

    def action_compare(self) -> None:
        run = self._highlighted()
        if run is None or self.baseline is None or run == self.baseline:
            self.notify("Mark a baseline with b, then highlight another run and press c.", severity="warning")
            return
        from cstui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(self.store, run, self.baseline))
