"""SideBySideScreen: one session as the baseline and the candidate run hold it, transcripts side by side and every
evaluator's verdict in both, differences marked — for a session that flipped between two runs."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cstui.screens import data
from cstui.screens.data import LoadFailed, PairLoaded
from cstui.store import Store
from cstui.textsafe import inert
from cstui.widgets.transcript import TurnView, turn_text


class SideBySideScreen(Screen[None]):
    HELP = ("One session in two runs: the baseline's transcript on the left, the candidate's on the right (a turn "
            "that differs is marked), and below every evaluator's verdict in both, the changed ones first.")
    BINDINGS: ClassVar[list[BindingType]] = [*data.FIRST_KEYS, Binding("escape", "app.back", "Back")]
    DEFAULT_CSS = """
    SideBySideScreen #pair { height: 2fr; }
    SideBySideScreen .side { width: 1fr; border: round $primary; }
    SideBySideScreen #diff-verdicts { height: 1fr; border: round $primary; }
    SideBySideScreen TurnView.changed { border-left: thick $warning; }
    """

    def __init__(self, store: Store, baseline: str, run: str, session_id: str) -> None:
        super().__init__()
        self.store, self.baseline, self.run, self.session_id = store, baseline, run, session_id

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="pair"):
            left = VerticalScroll(id="left", classes="side")
            left.border_title = f"baseline {self.baseline}"
            yield left
            right = VerticalScroll(id="right", classes="side")
            right.border_title = f"candidate {self.run}"
            yield right
        table = DataTable(id="diff-verdicts", cursor_type="row")
        table.border_title = "verdicts: baseline → candidate"
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = inert(f"{self.session_id} · {self.baseline} vs {self.run}", keep_newlines=False)
        baseline, run, sid = self.baseline, self.run, self.session_id

        def fetch(store: Store) -> PairLoaded:
            from cstui.store import StoreError
            from cstui.triage import session_view

            views = []
            for name in (baseline, run):
                try:
                    views.append(session_view(store, name, sid))
                except StoreError:  # that run does not hold the session
                    views.append(None)
            return PairLoaded(*views)

        data.load(self, "side by side", fetch)

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        self.notify(f"could not load the session: {inert(str(message.error), keep_newlines=False)}", severity="error")

    @on(PairLoaded)
    async def _loaded(self, message: PairLoaded) -> None:
        views = {"left": message.baseline, "right": message.candidate}
        texts = {side: [turn_text(v.session, i) for i in range(len(v.session.turns))] if v else []
                 for side, v in views.items()}
        for side, view in views.items():
            box = self.query_one(f"#{side}", VerticalScroll)
            if view is None:
                await box.mount(Static(Text("this run has no session with that id", style="italic")))
                continue
            other = texts["right" if side == "left" else "left"]
            widgets = []
            for i, text in enumerate(texts[side]):
                widget = TurnView(text, id=f"{side}-turn-{i}")
                if i >= len(other) or other[i].plain != text.plain:
                    widget.add_class("changed")
                widgets.append(widget)
            await box.mount_all(widgets)
        self._show_verdicts(message.baseline, message.candidate)

    def _show_verdicts(self, baseline: Any, candidate: Any) -> None:
        table = self.query_one("#diff-verdicts", DataTable)
        table.add_columns("", "evaluator", "baseline", "candidate", "candidate's reason")

        def word(r: Any) -> str:
            if r is None:
                return "—"
            return {True: "pass", False: "FAIL", None: "n/a"}[r.effective]

        before = {r.evaluator: r for r in (baseline.results if baseline else [])}
        after = {r.evaluator: r for r in (candidate.results if candidate else [])}
        rows = []
        for name in sorted(set(before) | set(after)):
            b, c = before.get(name), after.get(name)
            changed = word(b) != word(c)
            rows.append((not changed, name, b, c, changed))
        for _, name, b, c, changed in sorted(rows, key=lambda r: (r[0], r[1])):
            style = "bold red" if changed and word(c) == "FAIL" else "bold green" if changed else ""
            table.add_row(Text("≠" if changed else "", style=style), inert(name), word(b),
                          Text(word(c), style=style), inert((c.rationale if c else "")[:120], keep_newlines=False),
                          key=name)
        table.focus()
