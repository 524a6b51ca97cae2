"""RelabelScreen: a reviewer's verdict on one evaluator and/or the session, appended with an audit record."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, RadioSet, Select, Static

from cstui.screens import data
from cstui.screens.data import DbBusy, LabelSaved, SaveFailed
from cstui.screens.dialog import Dialog
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import FAILURE_REASONS, SessionView
from cstui.widgets.marked_radio_button import MarkedRadioButton

SESSION_LABEL = "(session: overall correctness only)"


class RelabelScreen(Dialog[bool]):
    """Dismisses True when a label was saved."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+j", "judge_right", "Evaluator was right"),
        Binding("ctrl+f", "false_alarm", "False alarm"),
    ]
    DEFAULT_CSS = """
    RelabelScreen #tier { width: 24; }
    RelabelScreen #intent { width: 1fr; }
    RelabelScreen Horizontal { height: auto; }
    RelabelScreen RadioSet { width: 1fr; }
    RelabelScreen Label { margin-top: 1; color: $text-muted; }
    RelabelScreen Input, RelabelScreen Select { margin-top: 1; }
    RelabelScreen Button { margin-right: 2; }
    RelabelScreen #buttons { margin-top: 1; }
    """

    def __init__(self, store: Store, view: SessionView, evaluator: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.view = view
        self.evaluators = [r.evaluator for r in view.results]
        self.initial = evaluator if evaluator in self.evaluators else None

    def compose(self) -> ComposeResult:
        s = self.view.session
        with VerticalScroll(classes=self.BOX):
            yield Static(Text(f"Relabel {inert(s.session_id, keep_newlines=False)} in run "
                              f"{inert(self.view.run, keep_newlines=False)}", style="bold"))
            yield Label("Evaluator")
            yield Select([(e, e) for e in self.evaluators] + [(SESSION_LABEL, "")], value=self.initial or "",
                         allow_blank=False, id="evaluator", compact=True)
            yield Static(id="machine")
            with Horizontal():
                with RadioSet(id="verdict"):
                    yield MarkedRadioButton("verdict unchanged", value=True)
                    yield MarkedRadioButton("pass: a false alarm")
                    yield MarkedRadioButton("fail: the evaluator was right")
                with RadioSet(id="correct"):
                    yield MarkedRadioButton("correctness unchanged", value=True)
                    yield MarkedRadioButton("session correct")
                    yield MarkedRadioButton("session incorrect")
            yield Label("Tier and intent, if the session was classified wrongly")
            with Horizontal():
                yield Select([("tier unchanged", 0), ("Tier 1", 1), ("Tier 2", 2), ("Tier 3", 3)], value=0,
                             allow_blank=False, id="tier", compact=True)
                yield Input(placeholder=f"intent (now {s.intent or '—'})", id="intent", compact=True)
            yield Label("Failure reason")
            yield Select([(r, r) for r in FAILURE_REASONS], prompt="(none)", id="reason", compact=True)
            yield Label("Or a reason of your own (replaces the one chosen above)")
            yield Input(placeholder="e.g. quoted the 2023 fee table", id="reason-free", compact=True)
            yield Label("Note (kept with the label; shown in exports and the audit log)")
            yield Input(placeholder="what you saw", id="note", compact=True)
            with Horizontal(id="buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)
        yield Footer()  # this dialog's keys, not the session screen's

    def on_mount(self) -> None:
        self._show_machine_verdict()

    @on(Select.Changed, "#evaluator")
    def _show_machine_verdict(self) -> None:
        """What the evaluator said, so the reviewer sees what they are overriding."""
        evaluator = self.query_one("#evaluator", Select).value
        result = self.view.result(str(evaluator)) if evaluator else None
        text = Text()
        if result is not None:
            text.append("machine verdict ", style="dim")
            text.append(result.machine_word, style="bold red" if result.machine is False else "green")
            if result.human:
                text.append(f" · reviewer said {result.human}", style="magenta")
            text.append(f" — {inert(result.rationale or '')[:240]}", style="dim")
        self.query_one("#machine", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_judge_right(self) -> None:
        self._preset(2, "judge_right")

    def action_false_alarm(self) -> None:
        self._preset(1, "false_alarm")

    def _preset(self, verdict_index: int, reason: str) -> None:
        buttons = list(self.query_one("#verdict", RadioSet).query(MarkedRadioButton))
        buttons[verdict_index].value = True
        self.query_one("#reason", Select).value = reason

    def collect(self) -> dict[str, Any]:
        evaluator = self.query_one("#evaluator", Select).value or None
        verdict_index = self.query_one("#verdict", RadioSet).pressed_index
        correct_index = self.query_one("#correct", RadioSet).pressed_index
        tier = self.query_one("#tier", Select).value
        reason_pick = self.query_one("#reason", Select).value
        reason_free = self.query_one("#reason-free", Input).value.strip()
        label = {
            "session_id": self.view.session.session_id,
            "evaluator": evaluator if verdict_index in (1, 2) else None,
            "verdict": {1: "pass", 2: "fail"}.get(verdict_index),
            "correct": {1: True, 2: False}.get(correct_index),
            "tier": tier or None,
            "intent": self.query_one("#intent", Input).value.strip() or None,
            "reason": reason_free or (reason_pick if isinstance(reason_pick, str) else None),
            "note": self.query_one("#note", Input).value.strip() or None,
            "source": "triage",
        }
        return label

    def action_save(self) -> None:
        from cstui.config import load_config

        label = self.collect()
        if label["verdict"] and not self.query_one("#evaluator", Select).value:
            self.notify("A pass/fail verdict needs an evaluator.", severity="error")
            return
        if not any(label[k] is not None for k in ("verdict", "correct", "tier", "intent", "reason", "note")):
            self.notify("Nothing to save: choose a verdict, correctness, tier, intent, reason or note.",
                        severity="warning")
            return
        self.query_one("#save", Button).disabled = True
        self.notify("saving…")
        self.save(label, load_config().reviewer)

    def save(self, label: dict[str, Any], reviewer: str | None) -> None:
        """Through the data layer: while another process holds the write lock (a long eval), the UI keeps working
        and the label waits its turn instead of being lost."""
        run = self.view.run
        data.save(self, "label", lambda store: LabelSaved(store.add_label(run, label, reviewer=reviewer)),
                  path=self.store.path)

    @on(DbBusy)
    def _busy(self, message: DbBusy) -> None:
        message.stop()
        self.notify("the database is busy (another process is writing); the label will be saved as soon as it is "
                    "free", timeout=10)

    @on(SaveFailed)
    def _save_failed(self, message: SaveFailed) -> None:
        message.stop()
        self._failed(str(message.error))

    @on(LabelSaved)
    def _label_saved(self, message: LabelSaved) -> None:
        message.stop()
        self._saved()

    def _failed(self, message: str) -> None:
        self.query_one("#save", Button).disabled = False
        self.notify(f"label not saved: {message}", severity="error")

    def _saved(self) -> None:
        self.notify("label saved")
        self.dismiss(True)
