"""RerunScreen: rerun chosen evaluators on this session, the selection or the current filter.

Runs in a thread worker with its own database connection: progress, ETA and cancel, and the UI never
waits. Results are stored as new versions (the previous verdicts stay as history).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, ProgressBar, RadioSet, SelectionList, Static
from textual.worker import Worker, WorkerState, get_current_worker

from cstui.screens.dialog import Dialog
from cstui.store import Store
from cstui.widgets.marked_radio_button import MarkedRadioButton
from cstui.widgets.type_ahead_list import TypeAheadSelectionList

SCOPE_TITLES = {"session": "this session", "selection": "selected sessions", "filter": "current filter"}


@dataclass
class RerunProgress(Message):
    """Sessions done so far, and the status line to show (empty: leave it)."""

    done: int
    status: str


@dataclass
class RerunFinished(Message):
    text: str
    changed: bool  # verdicts were stored


class RerunScreen(Dialog[bool]):
    """Dismisses True when new verdicts were stored."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel / close"),
        Binding("ctrl+r", "run", "Run"),
    ]
    DEFAULT_CSS = """
    RerunScreen SelectionList { height: 12; }
    RerunScreen Horizontal { height: auto; margin-top: 1; }
    RerunScreen #status { margin-top: 1; }
    """

    def __init__(self, store: Store, run: str, scopes: dict[str, list[str]], chosen: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.store = store
        self.run = run
        self.chosen = set(chosen)  # ticked at the start: the evaluators the reviewer was looking at
        self.scopes = {k: v for k, v in scopes.items() if v}
        self.changed = False
        self.worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        from cstui.evaluators import registry

        evaluators = registry.all_evaluators()
        with Vertical(classes=self.BOX):
            yield Static(Text(f"Rerun evaluators on run {self.run}", style="bold"))
            yield Label("Evaluators (type a name to jump to it, space toggles)")
            # judges are never ticked for the reviewer: they cost money and need a model
            yield TypeAheadSelectionList(*((f"{ev.id}  ({ev.kind})", ev.id, ev.id in self.chosen and ev.kind != "judge")
                                       for ev in evaluators), id="evaluators")
            yield Label("Scope")
            with RadioSet(id="scope"):
                for i, (key, ids) in enumerate(self.scopes.items()):
                    yield MarkedRadioButton(f"{SCOPE_TITLES[key]} ({len(ids):,})", value=i == 0, name=key)
            yield ProgressBar(total=100, show_eta=True, id="progress")
            yield Static("choose evaluators, then Run (ctrl+r)", id="status")
            with Horizontal():
                yield Button("Run (ctrl+r)", variant="primary", id="run")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#evaluators", SelectionList).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self.action_run()
        else:
            self.action_cancel()

    def chosen_scope(self) -> tuple[str, list[str]]:
        pressed = self.query_one("#scope", RadioSet).pressed_button
        key = pressed.name if pressed is not None and pressed.name else next(iter(self.scopes))
        return key, self.scopes[key]

    def action_run(self) -> None:
        if self.worker is not None and self.worker.state == WorkerState.RUNNING:
            return
        evaluators = list(self.query_one("#evaluators", SelectionList).selected)
        if not evaluators:
            self.notify("Choose at least one evaluator.", severity="warning")
            return
        if not self.scopes:
            self.notify("Nothing to rerun: no sessions in scope.", severity="warning")
            return
        _, session_ids = self.chosen_scope()
        from cstui.config import load_config
        from cstui.evaluators import registry
        from cstui.judge import JudgeError, JudgeSettings

        judges = [e for e in evaluators if registry.get(e).kind == "judge"]
        settings = None
        if judges:
            try:
                settings = JudgeSettings.resolve(None, None, cfg=load_config())
            except JudgeError as exc:
                self.notify(f"{exc}", severity="error", timeout=8)
                return
        self.query_one("#progress", ProgressBar).update(total=len(session_ids), progress=0)
        self.query_one("#status", Static).update(f"running {len(evaluators)} evaluator(s) on "
                                                 f"{len(session_ids):,} session(s)…")
        self.worker = self.rerun(evaluators, settings, session_ids)

    @work(thread=True, exclusive=True, group="rerun", exit_on_error=False)
    def rerun(self, evaluators: list[str], settings: Any, session_ids: list[str]) -> None:
        from cstui import evaluation
        from cstui.config import load_config
        from cstui.judge import JudgeError

        worker = get_current_worker()
        started = time.monotonic()

        def progress(stage: str, done: int, total: int, note: str) -> None:
            self.post_message(RerunProgress(done, f"{stage}: {done:,}/{total:,} sessions · {note} so far" if note
                                            else ""))

        try:
            with self.store.reopen() as store:
                result = evaluation.run(store, self.run, evaluators, session_ids, cfg=load_config(),
                                        judge=settings, progress=progress, cancel=lambda: worker.is_cancelled,
                                        chunk_size=25)
        except evaluation.Cancelled:
            self.post_message(RerunFinished("cancelled: nothing was stored", False))
            return
        except (JudgeError, evaluation.EvaluationError) as exc:
            self.post_message(RerunFinished(f"rerun stopped, nothing stored: {exc}", False))
            return
        except Exception as exc:  # noqa: BLE001 - a failed rerun is reported, it never takes the app down
            self.post_message(RerunFinished(f"rerun failed, nothing stored: {type(exc).__name__}: {exc}", False))
            return
        self.post_message(RerunFinished(f"done in {time.monotonic() - started:.1f}s: {result.n_results:,} verdicts "
                                        f"stored, {result.failed:,} failing (previous verdicts kept as history)", True))

    @on(RerunProgress)
    def _progress(self, message: RerunProgress) -> None:
        self.query_one("#progress", ProgressBar).update(progress=message.done)
        if message.status:
            self.query_one("#status", Static).update(message.status)

    @on(RerunFinished)
    def _finished(self, message: RerunFinished) -> None:
        self.changed = self.changed or message.changed
        self.query_one("#status", Static).update(message.text)
        self.notify(message.text)
        if message.changed:
            self.dismiss(True)

    def action_cancel(self) -> None:
        if self.worker is not None and self.worker.state == WorkerState.RUNNING:
            self.worker.cancel()
            self.query_one("#status", Static).update("cancelling…")
            return
        self.dismiss(self.changed)
