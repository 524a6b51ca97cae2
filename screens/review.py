"""ReviewScreen: step through a review queue one session at a time with single-key verdicts.

Labels given here carry source "queue" so agreement is reported on this unbiased sample apart from
labels given while triaging failures.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cstui.screens import data
from cstui.screens.data import LabelSaved, QueueLoaded
from cstui.screens.session import TurnView, turn_text
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import SessionView

OVERALL = "(overall correctness)"


class ReviewScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.back", "Back"),
        Binding("y", "verdict('pass')", "Pass / met"),
        Binding("x", "verdict('fail')", "Fail / not met"),
        Binding("right_square_bracket,right", "step(1)", "Next session", key_display="]"),
        Binding("left_square_bracket,left", "step(-1)", "Previous session", key_display="["),
        Binding("u", "next_unreviewed", "Next unreviewed"),
    ]
    DEFAULT_CSS = """
    ReviewScreen #progress { height: 2; padding: 0 1; background: $panel; }
    ReviewScreen #main { height: 1fr; }
    ReviewScreen #transcript { width: 3fr; border: round $primary; }
    ReviewScreen #side { width: 2fr; }
    ReviewScreen #criteria { height: auto; max-height: 60%; border: round $accent; }
    ReviewScreen #keys { padding: 0 1; color: $text-muted; }
    """

    def __init__(self, store: Store, queue: str) -> None:
        super().__init__()
        self.store = store
        self.queue = queue
        self.items = store.review_items(queue)
        self.run = next(q["run"] for q in store.review_queues() if q["name"] == queue)
        first = next((i for i, item in enumerate(self.items) if not item["reviewed"]), 0)
        self.position = first
        self.view: SessionView | None = None
        self.given: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="progress")
        with Horizontal(id="main"):
            yield VerticalScroll(id="transcript")
            with Vertical(id="side"):
                yield DataTable(id="criteria", cursor_type="row")
                yield Static("↑↓ choose a criterion · y pass/met · x fail/not met · ] next · [ previous · "
                             "u next unreviewed · esc back", id="keys")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = inert(f"review queue · {self.queue}", keep_newlines=False)
        self.query_one("#criteria").border_title = "criteria: judge verdict → yours"
        self.load()

    @property
    def session_id(self) -> str:
        return self.items[self.position]["session_id"]

    def load(self) -> None:
        run, session_id, queue = self.run, self.session_id, self.queue

        def fetch(store: Store) -> QueueLoaded:
            from cstui.triage import session_view

            return QueueLoaded(session_view(store, run, session_id), store.review_items(queue))

        data.load(self, "review", fetch, path=self.store.path)

    @on(QueueLoaded)
    async def _queue_loaded(self, message: QueueLoaded) -> None:
        await self.show(message.view, message.items)

    async def show(self, view: SessionView, items: list[dict[str, Any]]) -> None:
        self.view, self.items = view, items
        self.given = {}
        for label in view.labels:
            if label["source"] == "queue":
                if label["evaluator"] and label["verdict"]:
                    self.given[label["evaluator"]] = label["verdict"]
                elif label["correct"] is not None:
                    self.given[OVERALL] = "pass" if label["correct"] else "fail"
        self._progress()
        box = self.query_one("#transcript", VerticalScroll)
        await box.remove_children()
        await box.mount_all([TurnView(turn_text(view.session, i), id=f"turn-{i}")
                             for i in range(len(view.session.turns))])
        self._criteria()

    def criteria(self) -> list[tuple[str, bool | None]]:
        assert self.view is not None
        judged = [(r["evaluator"], r["machine_passed"]) for r in self.view.results
                  if r.get("detail") is not None or r["evaluator"] in self._judge_ids()]
        return [*judged, (OVERALL, self.view.session.outcome.correct)]

    def _judge_ids(self) -> set[str]:
        from cstui.evaluators import registry

        return {ev.id for ev in registry.all_evaluators("judge")}

    def _criteria(self) -> None:
        table = self.query_one("#criteria", DataTable)
        row = table.cursor_row if table.row_count else 0
        table.clear(columns=True)
        table.add_columns("criterion", "judge", "yours")
        for name, machine in self.criteria():
            judge = Text("—", style="dim") if machine is None else (
                Text("pass", style="green") if machine else Text("fail", style="red"))
            mine = self.given.get(name)
            yours = Text(mine or "·", style="bold magenta" if mine else "dim")
            table.add_row(Text(name), judge, yours, key=name)
        table.move_cursor(row=min(row, table.row_count - 1))
        table.focus()

    def _progress(self) -> None:
        reviewed = sum(1 for item in self.items if item["reviewed"])
        item = self.items[self.position]
        text = Text(f"{reviewed}/{len(self.items)} reviewed", style="bold")
        text.append(f"  ·  session {self.position + 1}/{len(self.items)}: {inert(item['session_id'])}"
                    + (f" ({inert(item['stratum'])})" if item["stratum"] else ""))
        if self.view is not None:
            s = self.view.session
            text.append(f"\ntier {s.tier} · intent {inert(s.intent or '—')} · channel {inert(s.channel or '—')}",
                        style="dim")
        self.query_one("#progress", Static).update(text)

    def action_verdict(self, verdict: str) -> None:
        from cstui.config import load_config

        table = self.query_one("#criteria", DataTable)
        if self.view is None or not table.row_count:
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        label: dict[str, Any] = {"session_id": self.session_id, "source": "queue"}
        if name == OVERALL:
            label["correct"] = verdict == "pass"
        else:
            label.update(evaluator=name, verdict=verdict)
        run, reviewer = self.run, load_config().reviewer
        data.save(self, "label", lambda store: LabelSaved(store.add_label(run, label, reviewer=reviewer)),
                  path=self.store.path)
        self.given[name] = verdict
        self.items[self.position]["reviewed"] = 1
        self._progress()
        self._criteria()
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_step(self, delta: int) -> None:
        self.position = (self.position + delta) % len(self.items)
        self.load()

    def action_next_unreviewed(self) -> None:
        for offset in range(1, len(self.items) + 1):
            index = (self.position + offset) % len(self.items)
            if not self.items[index]["reviewed"]:
                self.position = index
                self.load()
                return
        self.notify("Every session in this queue has a queue label.")
