"""ReviewScreen: step through a review queue one session at a time with single-key verdicts.

Beside the transcript: every criterion with the machine's verdict (an evaluator or LLM judge) and yours, the
highlighted verdict's reason, a note saved with your next verdict, and the span tree with the selected span's
arguments and result. Labels given here carry source "queue" so agreement is reported on this unbiased sample
apart from labels given while triaging failures.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from cstui.screens import data
from cstui.screens.data import LabelSaved, QueueLoaded
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import SessionView
from cstui.widgets.row_table import RowTable
from cstui.widgets.span_tree import SpanTree, span_detail
from cstui.widgets.transcript import TurnView, turn_text

OVERALL = "(overall correctness)"


class ReviewScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *data.FIRST_KEYS,
        Binding("escape", "app.back", "Back"),
        Binding("y", "verdict('pass')", "Pass / met"),
        Binding("x", "verdict('fail')", "Fail / not met"),
        Binding("n,right_square_bracket,right", "step(1)", "Next", key_display="n"),
        Binding("p,left_square_bracket,left", "step(-1)", "Prev", key_display="p"),
        Binding("u", "next_unreviewed", "Next unreviewed"),
        Binding("a", "note", "Note…"),
        Binding("tab", "app.focus_next", "Next pane", show=False),
        Binding("shift+tab", "app.focus_previous", "Previous pane", show=False),
    ]
    HELP = ("Every criterion that applies to the session, the machine's verdict and yours: y / x give yours for the "
            "highlighted one and move to the next; a writes a note saved with your next verdict. n / p (or ] / [) "
            "step through the queue, u jumps to the next session without a queue label. The cursor starts on the "
            "first criterion of every session.")
    DEFAULT_CSS = """
    ReviewScreen #progress { height: 2; padding: 0 1; background: $panel; }
    ReviewScreen #main { height: 1fr; }
    ReviewScreen #transcript { width: 3fr; border: round $primary; }
    ReviewScreen #side { width: 2fr; }
    ReviewScreen #criteria { height: auto; max-height: 40%; border: round $accent; }
    ReviewScreen #why { height: auto; max-height: 8; padding: 0 1; color: $text-muted; }
    ReviewScreen #note { margin: 0 0; }
    ReviewScreen #spans { height: 1fr; min-height: 5; border: round $primary; }
    ReviewScreen #span-detail { height: 1fr; min-height: 4; border: round $primary; padding: 0 1; }
    ReviewScreen #keys { height: auto; padding: 0 1; color: $text-muted; }
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
        self._criteria_of: str | None = None  # the session the criteria table shows

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="progress")
        with Horizontal(id="main"):
            yield VerticalScroll(id="transcript")
            with Vertical(id="side"):
                yield RowTable(id="criteria", cursor_type="row")
                yield Static(id="why")
                yield Input(placeholder="note (a): saved with your next verdict on this session", id="note")
                yield SpanTree(id="spans")
                with VerticalScroll(id="span-detail"):
                    yield Static(Text("select a span to read its arguments and result", style="dim"),
                                 id="span-text")
                yield Static("↑↓ j k choose a criterion · y pass/met · x fail/not met · a note · n next · p previous · "
                             "u next unreviewed · tab panes · esc back", id="keys")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = inert(f"review queue · {self.queue}", keep_newlines=False)
        self.query_one("#criteria").border_title = "criteria: machine verdict → yours"
        self.query_one("#spans").border_title = "span tree"
        self.query_one("#span-detail").border_title = "span"
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
        # this queue's own labels: per evaluator the newest (the reviewed verdicts keep them newest first), and the
        # newest overall judgement of the answer
        self.given = {r.evaluator: queue[0].verdict for r in view.results
                      if (queue := [lab for lab in r.reviews if lab.source == "queue"])}
        overall = [lab for lab in view.labels if lab.source == "queue" and not lab.evaluator
                   and lab.correct is not None]
        if overall:
            self.given[OVERALL] = "pass" if overall[-1].correct else "fail"
        self._progress()
        box = self.query_one("#transcript", VerticalScroll)
        await box.remove_children()
        await box.mount_all([TurnView(turn_text(view.session, i), id=f"turn-{i}")
                             for i in range(len(view.session.turns))])
        self.query_one("#note", Input).value = ""
        self.query_one("#spans", SpanTree).show(view.session.spans)
        self.query_one("#span-text", Static).update(Text("select a span to read its arguments and result", style="dim"))
        self._criteria()

    def criteria(self) -> list[tuple[str, bool | None]]:
        """Every evaluator that applies to the session (failures first), then the session's overall correctness."""
        assert self.view is not None
        applicable = sorted((r for r in self.view.results if r.machine is not None),
                            key=lambda r: (bool(r.machine), r.evaluator))
        return [*((r.evaluator, r.machine) for r in applicable), (OVERALL, self.view.session.outcome.correct)]

    def _criteria(self) -> None:
        """The criteria table; the cursor stays where it was only while the same session is shown (a verdict just
        given), and starts on the first criterion of every other session."""
        assert self.view is not None
        table = self.query_one("#criteria", DataTable)
        session_id = self.view.session.session_id
        row = table.cursor_row if table.row_count and self._criteria_of == session_id else 0
        self._criteria_of = session_id
        table.clear(columns=True)
        table.add_columns("machine", "yours", "criterion")  # the short columns first: a narrow pane cuts the names
        for name, machine in self.criteria():
            verdict = Text("—", style="dim") if machine is None else (
                Text("pass", style="green") if machine else Text("FAIL", style="bold red"))
            mine = self.given.get(name)
            yours = Text(mine or "·", style="bold magenta" if mine else "dim")
            table.add_row(verdict, yours, Text(inert(name)), key=name)
        table.move_cursor(row=min(row, table.row_count - 1))
        table.focus()
        self._show_why()

    def _highlighted(self) -> str | None:
        table = self.query_one("#criteria", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _show_why(self) -> None:
        """The highlighted verdict's reason and evidence; its evidence span selected in the tree."""
        name, why = self._highlighted(), Text()
        result = self.view.result(name) if self.view and name else None
        if name == OVERALL:
            why.append("overall correctness: did the customer get a correct, complete answer?", style="italic")
        elif result is not None:
            why.append(inert(result.rationale or "(no rationale)", keep_newlines=True))
            for ev in result.evidence[:3]:
                if ev.span_id:
                    self.query_one("#spans", SpanTree).select_span(ev.span_id)
                if ev.snippet:
                    why.append(f"\n• turn {ev.turn_index}: “{inert(ev.snippet, keep_newlines=False)}”", style="italic")
        self.query_one("#why", Static).update(why)

    @on(DataTable.RowHighlighted, "#criteria")
    def _criterion_highlighted(self) -> None:
        self._show_why()

    @on(SpanTree.Selected)
    def _span_selected(self, event: SpanTree.Selected) -> None:
        self.query_one("#span-text", Static).update(span_detail(event.span))

    def action_note(self) -> None:
        self.query_one("#note", Input).focus()

    @on(Input.Submitted, "#note")
    def _note_done(self) -> None:
        self.query_one("#criteria", DataTable).focus()

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
        name = self._highlighted()
        if self.view is None or name is None:
            return
        label: dict[str, Any] = {"session_id": self.session_id, "source": "queue"}
        note = self.query_one("#note", Input)
        if note.value.strip():
            label["note"] = note.value.strip()
            note.value = ""
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
