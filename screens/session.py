"""SessionDetailScreen: a transcript beside its span tree, the verdicts with their evidence, the labels.

Every string here came from a transcript, a tool or a KB: it is rendered as plain `Text` after `inert`,
never parsed as markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Collapsible, DataTable, Footer, Header, Input, Static

from cstui.models import Evidence
from cstui.reviewed import ReviewedVerdict
from cstui.screens import data
from cstui.screens.data import GoldenSaved, LabelSaved, LoadFailed, NavigationLoaded, SessionLoaded
from cstui.screens.dialog import Dialog
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import SessionView
from cstui.validation import trust_text
from cstui.widgets.frustration_plot import FrustrationPlot
from cstui.widgets.row_table import RowTable
from cstui.widgets.span_tree import SpanTree, short, span_detail
from cstui.widgets.transcript import TurnView, find_all, turn_text


class KBScreen(Dialog[None]):
    """The KB articles a session cited or retrieved, every revision, deprecated ones marked."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, view: SessionView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        cited = {c for t in self.view.session.turns for c in t.citations}
        text = Text()
        if not self.view.kb:
            text.append("This session neither cites nor retrieves KB articles.")
        for kb_id, revisions in sorted(self.view.kb.items()):
            text.append(f"{inert(kb_id)}", style="bold")
            text.append("  cited" if kb_id in cited else "  retrieved only", style="dim")
            text.append("\n")
            if not revisions:
                text.append("  not in the knowledge base at all\n", style="bold red")
            for art in revisions:
                style = {"current": "green", "deprecated": "bold red", "deleted": "bold red"}[art.status]
                text.append(f"  rev {art.revision} ", style="bold")
                text.append(f"[{art.status.upper()}]", style=style)
                text.append(f" {inert(art.title, keep_newlines=False)}\n")
                text.append(f"  {inert(art.body, keep_newlines=True)}\n\n")
        with VerticalScroll(classes=self.BOX):
            yield Static(text)


class TextViewer(Dialog[None]):
    """A full-screen reader for one text when no $PAGER is set (`o`)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes=self.BOX) as box:
            box.border_title = self.title_text
            yield Static(Text(self.text))


class JudgeTranscriptScreen(Dialog[None]):
    """The full judge exchange behind one verdict: every prompt and reply, tokens and cost."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, result: ReviewedVerdict) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        transcript = self.result.transcript
        assert transcript is not None  # opened only for a verdict with one
        text = Text(f"{inert(self.result.evaluator)} {inert(self.result.evaluator_version)} · model "
                    f"{inert(str(transcript.model))} · strategy {inert(str(transcript.strategy))}\n", style="bold")
        for step in transcript.steps:
            text.append(f"\n── {inert(step.step)}", style="bold cyan")
            text.append(f"  {step.prompt_tokens}+{step.completion_tokens} tokens"
                        f"{'' if step.cost_usd is None else f', ${step.cost_usd:.5f}'}{' (cached)' if step.cached else ''}"
                        f"{' · reply constrained to the verdict JSON schema' if step.schema else ''}\n", style="dim")
            text.append("prompt:\n", style="bold")
            text.append(inert(step.prompt, keep_newlines=True) + "\n")
            text.append("reply:\n", style="bold")
            text.append(inert(step.text, keep_newlines=True) + "\n", style="green")
        if transcript.verdict is not None:
            text.append("\nverdict: ", style="bold")
            text.append(inert(json.dumps(transcript.verdict, ensure_ascii=False, default=str)))
        with VerticalScroll(classes=self.BOX):
            yield Static(text)


class SessionDetailScreen(Screen[None]):
    """One session: every pane derives from `view`, the one session on screen; nothing a pane showed for the
    previous session survives `show` (a span, a highlight, the selected verdict's reason)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *data.FIRST_KEYS,
        Binding("escape", "back_or_clear", "Back"),
        Binding("n", "next(1)", "Next"),
        Binding("N", "next(-1)", "Previous hit", key_display="N", show=False),
        Binding("p", "step(-1)", "Prev"),
        Binding("slash", "find", "Find in transcript", key_display="/", show=False),
        Binding("l", "relabel", "Relabel"),
        Binding("y", "quick_label('pass')", "Pass"),
        Binding("x", "quick_label('fail')", "Fail"),
        Binding("r", "rerun", "Rerun"),
        Binding("K", "kb", "KB articles", key_display="K", show=False),
        Binding("J", "judge_transcript", "Judge transcript", key_display="J", show=False),
        Binding("g", "golden", "Add to regression set", show=False),
        Binding("t", "fold('reference')", "Reference (task, expected actions)", show=False),
        Binding("o", "page", "Open in pager", show=False),
        Binding("b", "side_by_side", "Baseline side by side", show=False),
        Binding("s", "fold('system')", "System prompt", show=False),
        Binding("tab", "app.focus_next", "Next pane", show=False),
        Binding("shift+tab", "app.focus_previous", "Previous pane", show=False),
    ]
    HELP = ("Opens on the first failing verdict: its reason in the why pane, the sentence highlighted in the "
            "transcript, its span selected. n / p step through the sessions you came from (the filter of the "
            "failures list, or the run's failing sessions). y / x record your verdict on the highlighted evaluator "
            "(the machine's verdict stays beside it); l opens the full relabel form. / finds words in the "
            "transcript: n / N step through them, escape ends the find. t opens the reference, s the system "
            "prompt, o the focused text in your $PAGER, b this session in the baseline run side by side.")
    DEFAULT_CSS = """
    SessionDetailScreen #meta { height: auto; max-height: 4; padding: 0 1; background: $panel; }
    SessionDetailScreen #main { height: 2fr; }
    SessionDetailScreen #transcript { width: 3fr; border: round $primary; }
    SessionDetailScreen #right { width: 2fr; }
    SessionDetailScreen #spans { height: 1fr; min-height: 5; border: round $primary; }
    SessionDetailScreen #span-detail { height: 1fr; border: round $primary; padding: 0 1; }
    SessionDetailScreen #bottom { height: 1fr; min-height: 8; }
    SessionDetailScreen #verdicts { width: 3fr; border: round $primary; }
    SessionDetailScreen #why { width: 2fr; border: round $primary; padding: 0 1; }
    SessionDetailScreen #label-history { margin-top: 1; }
    SessionDetailScreen #transcript:focus-within, SessionDetailScreen #spans:focus,
    SessionDetailScreen #verdicts:focus, SessionDetailScreen #span-detail:focus,
    SessionDetailScreen #why:focus { border: round $accent; }
    SessionDetailScreen.small #meta { max-height: 2; }
    SessionDetailScreen.small #bottom { min-height: 6; }
    SessionDetailScreen.small #frustration { display: none; }
    SessionDetailScreen.small #spans { height: 3fr; min-height: 4; }
    SessionDetailScreen.small #span-detail { height: 2fr; }
    """

    def __init__(self, store: Store, run: str, session_id: str, navigation: Sequence[str] | None = None,
                 on_change: Callable[[], None] | None = None, baseline: str | None = None,
                 find: str = "") -> None:
        """`navigation`: the sessions n / p step through (the failures list's filter); None: the run's failing
        sessions, looked up when the screen opens."""
        super().__init__()
        self.store = store
        self.run = run
        self.session_id = session_id
        self.navigation: Sequence[str] = navigation or [session_id]
        self.navigation_name = "in filter" if navigation else "failing in run"
        self._find_failing = navigation is None
        self.on_change = on_change
        self.baseline = baseline  # given by the compare screen; else the run's remembered one
        self.open_find = find  # what a search of the failures list matched: found again in each session opened
        self.view: SessionView | None = None
        self.selected: str | None = None  # the highlighted evaluator: kept when the same session reloads
        self._spans: dict[str, Any] = {}
        self._find: tuple[str, list[int], int] = ("", [], -1)  # what `/` found: the words, the turns, where we are

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="meta")
        with Horizontal(id="main"):
            yield VerticalScroll(id="transcript")
            with Vertical(id="right"):
                yield FrustrationPlot(id="frustration")
                yield SpanTree(id="spans")
                with VerticalScroll(id="span-detail"):
                    yield Static(NO_SPAN, id="span-text")
        with Horizontal(id="bottom"):
            yield RowTable(id="verdicts", cursor_type="row")
            with VerticalScroll(id="why"):
                yield Static(id="why-text")
                yield Static(id="label-history")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#transcript").border_title = "transcript"
        self.query_one("#spans").border_title = "span tree"
        self.query_one("#span-detail").border_title = "span"
        self.query_one("#verdicts").border_title = "verdicts"
        self.query_one("#why").border_title = "why"
        self.set_class(self.app.size.height < 32 or self.app.size.width < 100, "small")
        self.load()
        if self._find_failing:
            run = self.run

            def fetch(store: Store) -> NavigationLoaded:
                from cstui.triage import FailureFilter, failures

                return NavigationLoaded(failures(store, run).view(FailureFilter()).session_ids())

            data.load(self, "failing sessions", fetch, path=self.store.path)

    def on_resize(self) -> None:
        self.set_class(self.app.size.height < 32 or self.app.size.width < 100, "small")

    def load(self) -> None:
        run, session_id = self.run, self.session_id

        def fetch(store: Store) -> SessionLoaded:
            from cstui.triage import session_view

            return SessionLoaded(session_view(store, run, session_id))

        data.load(self, "session", fetch, path=self.store.path)

    @on(SessionLoaded)
    async def _session_loaded(self, message: SessionLoaded) -> None:
        if message.view.session.session_id != self.session_id:
            return  # a slower load of a session the reviewer has already left
        await self.show(message.view)

    @on(NavigationLoaded)
    def _navigation_loaded(self, message: NavigationLoaded) -> None:
        if message.session_ids:
            self.navigation = message.session_ids
            if self.view is not None:
                self._show_meta(self.view)

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        """A session that cannot be read (an id not in the run): say so and go back, never a traceback."""
        message.stop()
        if message.what != "session":
            self.notify(f"could not load {message.what}: {message.error}", severity="error", timeout=10)
            return
        self.notify(f"cannot open session {self.session_id!r} of run {self.run!r}: {message.error}",
                    severity="error", timeout=10)
        self.app.pop_screen()

    # ------------------------------------------------------------------ rendering
    async def show(self, view: SessionView) -> None:
        """Every pane from `view`; what belonged to the previous session is cleared first."""
        same_session = self.view is not None and self.view.session.session_id == view.session.session_id
        self.view = view
        self._spans = {span.span_id: span for span in view.session.spans}
        if not same_session:
            self.selected = None
            self._find = ("", [], -1)  # a find belongs to the transcript it was made in
            self.sub_title = ""
        self.query_one("#span-text", Static).update(NO_SPAN)
        self.sub_title = inert(f"{self.run} · {view.session.session_id}", keep_newlines=False)
        self._show_meta(view)
        await self._show_transcript(view)
        await self.query_one("#frustration", FrustrationPlot).show(view.frustration, view.frustration_threshold)
        self._show_spans(view)
        self._show_verdicts(view)
        self._show_labels(view)
        if self.open_find and not same_session:  # opened from a search hit: land on the words searched for
            self.find(self.open_find, quiet=True)

    def _position(self, session_id: str) -> str:
        if session_id in self.navigation:
            if len(self.navigation) < 2:
                return ""
            return f" · {self.navigation.index(session_id) + 1}/{len(self.navigation)} {self.navigation_name}"
        n = len(self.navigation) if self._find_failing and self.navigation != [session_id] else 0
        return f" · not failing; n: the first of {n} failing in run" if n else ""

    def _show_meta(self, view: SessionView) -> None:
        """Line one: which session, what failed, where it sits in the list n / p walk; line two: its strata and
        outcome. A short terminal keeps line one."""
        s = view.session
        meta = Text()
        meta.append(inert(s.session_id), style="bold")
        meta.append("  failed: " if view.failed else "  no failed verdicts", style="bold red" if view.failed else "green")
        for i, r in enumerate(view.failed):
            meta.append(", " if i else "", style="red")
            meta.append(inert(r.evaluator), style="red")
            if r.overridden:
                meta.append(" (reviewer: pass)", style="magenta")
        meta.append(self._position(s.session_id), style="dim")
        meta.append("\n")
        for key, value in (("tier", s.tier), ("intent", s.intent), ("channel", s.channel), ("segment", s.segment),
                           ("category", s.category), ("started", s.started_at)):
            if value is not None:
                meta.append(f"{key} ", style="dim")
                meta.append(inert(str(value)) + "  ")
        out = s.outcome
        meta.append(outcome_words(out.correct, out.resolved, out.escalated), style="dim")
        self.query_one("#meta", Static).update(meta)

    def _turn_text(self, index: int, highlight: str | tuple[int, int] | None = None) -> Text:
        assert self.view is not None
        return turn_text(self.view.session, index, highlight, self._find[0])

    # ------------------------------------------------------------------ find in the transcript
    def action_find(self) -> None:
        """`/`: find words in this transcript (tool calls included); n / N step through the turns that hold them,
        escape ends the find (then n / p step through sessions again)."""
        if self.query("#find"):
            self.query_one("#find", Input).focus()
            return
        box = Input(placeholder="find in this transcript (enter; escape to stop)", id="find")
        self.mount(box, before=self.query_one("#main"))
        box.focus()

    @on(Input.Submitted, "#find")
    def _find_submitted(self, event: Input.Submitted) -> None:
        assert self.view is not None
        event.input.remove()
        self.find(event.value.strip())

    def find(self, needle: str, *, quiet: bool = False) -> None:
        """Highlight `needle` in every turn that holds it and move to the first."""
        assert self.view is not None
        hits = [i for i in range(len(self.view.session.turns))
                if needle and find_all(turn_text(self.view.session, i).plain, needle)]
        self._find = (needle, hits, -1)
        for turn in self.query(TurnView):
            if str(turn.id).startswith("turn-"):
                turn.update(self._turn_text(int(str(turn.id).split("-")[1])))
        if not hits:
            if not quiet:
                self.notify(f"“{inert(needle, keep_newlines=False)}” is not in this transcript", severity="warning")
            self._find = ("", [], -1)
            return
        self.query_one("#transcript").focus()
        self.action_next(1)

    def action_next(self, delta: int) -> None:
        """n / N: the next (previous) turn holding what `/` found — or, with no find active, the next session."""
        needle, hits, at = self._find
        if not needle:
            if delta > 0:
                self.action_step(1)
            return
        at = (at + delta) % len(hits)
        self._find = (needle, hits, at)
        target = self.query_one(f"#turn-{hits[at]}", TurnView)
        for parent in target.ancestors:  # a hit in the folded system prompt opens it
            if isinstance(parent, Collapsible):
                parent.collapsed = False
        target.scroll_visible(animate=False, top=True)
        self.sub_title = f"“{needle}”: turn {hits[at]} ({at + 1} of {len(hits)})"

    def action_back_or_clear(self) -> None:
        if self.query("#find"):
            self.query_one("#find", Input).remove()
            return
        if self._find[0]:
            self._find = ("", [], -1)
            for turn in self.query(TurnView):
                if str(turn.id).startswith("turn-"):
                    turn.update(self._turn_text(int(str(turn.id).split("-")[1])))
            self.sub_title = ""
            return
        self.app.action_back()  # type: ignore[attr-defined]

    async def _show_transcript(self, view: SessionView) -> None:
        box = self.query_one("#transcript", VerticalScroll)
        await box.remove_children()
        widgets: list[Widget] = []
        for i, turn in enumerate(view.session.turns):
            widget = TurnView(self._turn_text(i), id=f"turn-{i}")
            if turn.role == "system":  # the deployment's policy: long, and read once — folded away
                first_line = inert(turn.text.strip().splitlines()[0] if turn.text.strip() else "")
                widgets.append(Collapsible(widget, collapsed=True, id=f"system-{i}",
                                           title=f"#{i} system prompt · {len(turn.text):,} chars · {first_line[:60]}"))
            else:
                widgets.append(widget)
        if not widgets:
            widgets.append(Static(Text("This session has no turns: its trace held spans but no readable conversation.",
                                       style="italic")))
        if reference := reference_panel(view):
            widgets.insert(0, reference)
        await box.mount_all(widgets)

    def _show_spans(self, view: SessionView) -> None:
        self.query_one("#spans", SpanTree).show(view.session.spans)

    def _show_verdicts(self, view: SessionView) -> None:
        """The machine's verdict and the reviewer's, in columns of their own. Rows are ordered by the machine's
        verdict, so a relabel does not move them, and the cursor stays on the evaluator it was on."""
        table = self.query_one("#verdicts", DataTable)
        table.clear(columns=True)
        table.add_columns("evaluator", "machine", "reviewer", "precision", "evidence", "rationale")
        ordered = sorted(view.results, key=lambda r: (r.machine is not False, r.machine is None, r.evaluator))
        for r in ordered:
            table.add_row(Text(inert(r.evaluator)), machine_text(r), reviewer_text(r),
                          Text(*trust_text(view.trust.get(r.evaluator), short=True)),
                          Text(inert(evidence_places(r.evidence[:2], short=True))), Text(short(r.rationale or "", 200)),
                          key=r.evaluator)
        if not ordered:
            self.query_one("#why-text", Static).update(Text("no verdicts yet: press r to run evaluators", style="dim"))
            return
        keys = [r.evaluator for r in ordered]
        row = keys.index(self.selected) if self.selected in keys else 0  # else the first failing verdict
        table.focus()
        table.move_cursor(row=row)
        self.select_verdict(keys[row])

    def _show_labels(self, view: SessionView) -> None:
        text = Text()
        if not view.labels:
            text.append("no labels yet — l to relabel, y / x for a quick pass / fail", style="dim")
        for lab in reversed(view.labels):
            text.append(f"{inert(lab.created_at)} ", style="dim")
            text.append(inert(lab.reviewer), style="bold")
            what = [f"{lab.evaluator}={lab.verdict}"] if lab.evaluator else []
            what += [f"{key}={value}" for key, value in (("correct", lab.correct), ("tier", lab.tier),
                                                         ("intent", lab.intent), ("reason", lab.reason))
                     if value is not None]
            text.append(" " + inert(", ".join(what)) + "\n")
            if lab.note:
                text.append(f"  “{inert(lab.note)}”\n", style="italic")
        self.query_one("#label-history", Static).update(text)

    # ------------------------------------------------------------------ actions
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.jump_to_evidence(str(event.row_key.value))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "verdicts" and event.row_key is not None and event.row_key.value:
            self.select_verdict(str(event.row_key.value))

    @on(SpanTree.Selected)
    def _span_selected(self, event: SpanTree.Selected) -> None:
        if self._spans.get(event.span.span_id) is not event.span:
            return  # a highlight from the tree as it was for the previous session
        self._span_shown = event.span
        self.query_one("#span-text", Static).update(span_detail(event.span))
        self.query_one("#span-detail", VerticalScroll).scroll_home(animate=False)

    def select_verdict(self, evaluator: str) -> None:
        """Show a verdict's whole reason in the why pane, highlight its evidence, select its span."""
        result = self.view.result(evaluator) if self.view else None
        if result is None:
            return
        self.selected = evaluator
        text = Text()
        text.append(f"{inert(evaluator)} ", style="bold")
        text.append("machine " if result.reviews else "", style="dim")
        text.append(machine_text(result, long=True))
        text.append(f"  v{inert(str(result.evaluator_version))}", style="dim")
        if result.reviews:
            newest = result.reviews[0]
            text.append("  ·  reviewer ", style="dim")
            text.append(result.human or "", style="bold magenta")
            text.append(f" ({inert(newest.reviewer)}" + (f", {inert(newest.reason)}" if newest.reason else "") + ")",
                        style="magenta")
            if result.overridden:
                text.append("  → counts as " + ("PASS" if result.effective else "FAIL"), style="bold magenta")
        trust, style = trust_text(self.view.trust.get(evaluator))
        text.append(f"\nprecision {trust}\n", style=style)
        text.append(inert(result.rationale or "(no rationale)", keep_newlines=True) + "\n")
        for ev in result.evidence[:6]:
            text.append(f"• {inert(evidence_places([ev]))}", style="dim")
            if ev.snippet:
                text.append(f"  “{inert(ev.snippet)}”", style="italic")
            text.append("\n")
        self.query_one("#why-text", Static).update(text)
        self._why = text
        self.jump_to_evidence(evaluator, quiet=True)

    def jump_to_evidence(self, evaluator: str, *, quiet: bool = False) -> None:
        result = self.view.result(evaluator) if self.view else None
        if result is None or self.view is None:
            return
        for turn in self.query(TurnView):
            turn.remove_class("evidence")
            index = int(str(turn.id).split("-")[1])
            turn.update(self._turn_text(index))
        if not result.evidence:
            if not quiet:
                self.notify(f"{evaluator}: no evidence pointer recorded", severity="information")
            return
        first_turn = None
        spans = self.query_one("#spans", SpanTree)
        for ev in result.evidence:
            if ev.turn_index is not None and 0 <= ev.turn_index < len(self.view.session.turns):
                for fold in self.query(f"#system-{ev.turn_index}").results(Collapsible):
                    fold.collapsed = False
                widget = self.query_one(f"#turn-{ev.turn_index}", TurnView)
                widget.add_class("evidence")
                offsets = (ev.start, ev.end) if ev.start is not None and ev.end is not None else None
                widget.update(self._turn_text(ev.turn_index, offsets or ev.snippet))
                first_turn = first_turn or widget
            if ev.span_id and spans.select_span(ev.span_id) and ev.span_id in self._spans:
                self.query_one("#span-text", Static).update(span_detail(self._spans[ev.span_id]))
        if first_turn is not None:  # after the next refresh: turns mounted just now have no layout yet
            transcript = self.query_one("#transcript", VerticalScroll)
            self.call_after_refresh(transcript.scroll_to_widget, first_turn, animate=False, top=True)

    def action_step(self, delta: int) -> None:
        if self.session_id not in self.navigation:
            if not self.navigation or self.navigation == [self.session_id]:
                self.notify("No other sessions to step to.", severity="information")
                return
            self.session_id = self.navigation[0 if delta > 0 else -1]
        elif len(self.navigation) < 2:
            self.notify(f"No other sessions {self.navigation_name}.", severity="information")
            return
        else:
            index = (self.navigation.index(self.session_id) + delta) % len(self.navigation)
            self.session_id = self.navigation[index]
        self.load()

    def _changed(self) -> None:
        self.load()
        if self.on_change:
            self.on_change()

    def _highlighted(self) -> str | None:
        table = self.query_one("#verdicts", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_relabel(self) -> None:
        from cstui.screens.relabel import RelabelScreen

        if self.view is None:
            return
        if self.store.read_only:
            self.notify(f"read-only database ({self.store.opened.reason}): labels cannot be saved", severity="warning")
            return

        def done(saved: bool | None) -> None:
            if saved:
                self._changed()

        self.app.push_screen(RelabelScreen(self.store, self.view, self._highlighted()), done)

    def action_quick_label(self, verdict: str) -> None:
        """y / x: the reviewer's pass / fail on the highlighted evaluator, in one key (audited like any label)."""
        evaluator = self._highlighted()
        if self.view is None or evaluator is None:
            return
        if self.store.read_only:
            self.notify(f"read-only database ({self.store.opened.reason}): labels cannot be saved", severity="warning")
            return
        from cstui.config import load_config

        run, session_id, reviewer = self.run, self.session_id, load_config().reviewer
        label = {"session_id": session_id, "evaluator": evaluator, "verdict": verdict, "source": "triage"}
        data.save(self, "label", lambda store: LabelSaved(store.add_label(run, label, reviewer=reviewer)),
                  path=self.store.path)

    @on(LabelSaved)
    def _label_saved(self, message: LabelSaved) -> None:
        message.stop()
        self.notify("label saved")
        self._changed()

    def action_rerun(self) -> None:
        from cstui.screens.rerun import RerunScreen

        def done(changed: bool | None) -> None:
            if changed:
                self._changed()

        scopes = {"session": [self.session_id], "filter": list(self.navigation)}
        failed = tuple(r.evaluator for r in self.view.failed) if self.view else ()
        self.app.push_screen(RerunScreen(self.store, self.run, scopes, chosen=failed), done)

    def action_judge_transcript(self) -> None:
        evaluator = self._highlighted()
        result = self.view.result(evaluator) if self.view and evaluator else None
        if result is None or result.transcript is None:
            self.notify(f"{evaluator} is not an LLM judge verdict: no judge transcript", severity="information")
            return
        self.app.push_screen(JudgeTranscriptScreen(result))

    def action_golden(self) -> None:
        from cstui.screens.pick import AskScreen

        if self.view is None:
            return
        run, session_id = self.run, self.session_id
        failed = [r.evaluator for r in self.view.failed]

        def save(reason: str | None) -> None:
            if not reason:
                return
            from cstui.config import load_config

            reviewer = load_config().reviewer
            evaluator = failed[0] if len(failed) == 1 else None
            data.save(self, "regression case", lambda store: GoldenSaved(store.add_golden(
                run, session_id, reason, evaluator=evaluator, reviewer=reviewer)), path=self.store.path)

        self.app.push_screen(AskScreen(f"Add {inert(session_id)} to the regression set — why?",
                                       "reason, e.g. fabricated refund window"), save)

    @on(GoldenSaved)
    def _golden_saved(self, message: GoldenSaved) -> None:
        message.stop()
        self.notify(f"regression case #{message.case} added")

    def _focused_text(self) -> tuple[str, str]:
        """(title, text) of what has focus: the selected span, the why pane of the highlighted verdict, or the
        whole transcript with its tool calls."""
        assert self.view is not None
        focused = self.focused
        span = getattr(self, "_span_shown", None)
        if span is not None and focused is not None and focused.id in ("spans", "span-detail"):
            return f"span {span.name}", span_detail(span).plain
        if isinstance(focused, DataTable) and getattr(self, "_why", None) is not None:
            return "verdict", self._why.plain
        turns = "\n\n".join(turn_text(self.view.session, i).plain for i in range(len(self.view.session.turns)))
        return f"transcript {self.view.session.session_id}", turns

    def action_page(self) -> None:
        """Open the focused text in $PAGER (inert: a trace's escape sequences never reach it), or in a full-screen
        viewer when no pager is set."""
        import os
        import shlex
        import subprocess
        import tempfile

        if self.view is None:
            return
        title, text = self._focused_text()
        text = inert(text, keep_newlines=True)
        pager = os.environ.get("PAGER", "").strip()
        if not pager:
            self.app.push_screen(TextViewer(title, text))
            return
        with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="cstui-", delete=False, encoding="utf-8") as f:
            f.write(text + "\n")
        try:
            from textual.app import SuspendNotSupported

            try:
                with self.app.suspend():
                    subprocess.run([*shlex.split(pager), f.name], check=False)
            except SuspendNotSupported:  # headless (a test's pager): nothing on screen to give away
                subprocess.run([*shlex.split(pager), f.name], check=False)
        except OSError as exc:
            self.notify(f"could not run $PAGER ({inert(pager, keep_newlines=False)}): {exc}", severity="error")
        finally:
            os.unlink(f.name)

    def action_side_by_side(self) -> None:
        """This session in the baseline run beside this run (the baseline the dashboard compares with)."""
        if self.view is None:
            return
        baseline = self.baseline or self.view.baseline
        if not baseline:
            self.notify("no baseline for this run: open it with --baseline NAME (or c on the dashboard)",
                        severity="information")
            return
        from cstui.screens.side_by_side import SideBySideScreen

        self.app.push_screen(SideBySideScreen(self.store, baseline, self.run, self.view.session.session_id))

    def action_fold(self, what: str) -> None:
        """Open (or close) the reference panel or the system prompt from the keyboard, wherever focus is."""
        found = [c for c in self.query(Collapsible) if str(c.id) == what or str(c.id).startswith(f"{what}-")]
        if not found:
            self.notify(f"this session has no {'reference' if what == 'reference' else 'system prompt'}",
                        severity="information")
            return
        for panel in found:
            panel.collapsed = not panel.collapsed
        found[0].scroll_visible(animate=False)

    def action_kb(self) -> None:
        if self.view is not None:
            self.app.push_screen(KBScreen(self.view))


NO_SPAN = Text("select a span to read its arguments and result", style="dim")


REFERENCE_MARKS = {"done": ("✓", "green"), "differently": ("≈", "yellow"), "missed": ("✗", "red")}


def reference_panel(view: SessionView) -> Collapsible | None:
    """What a correct conversation would have done, beside what this one did: the task's instruction, each reference
    action marked done / done differently / missed, and the recorded reward. None when the session has no reference."""
    reference = view.session.reference if isinstance(view.session.reference, dict) else {}
    steps = view.reference
    instruction = reference.get("notes") or reference.get("instruction") or reference.get("response")
    reward = getattr(view.session.outcome, "reward", None)  # an outcome field importers add (τ-bench, τ²-bench)
    if not steps and not instruction:
        return None
    body = Text()
    if instruction:
        body.append("instruction  ", style="bold")
        body.append(inert(str(instruction), keep_newlines=True) + "\n")
    for step in steps:
        mark, style = REFERENCE_MARKS[step.status]
        body.append(f"{mark} ", style=f"bold {style}")
        body.append(inert(step.name, keep_newlines=False), style=style)
        body.append(" " + inert(short(step.arguments, 160), keep_newlines=False))
        if step.status != "done":
            body.append(f"  ({'missed' if step.status == 'missed' else 'called with other arguments'})", style=style)
        body.append("\n")
    counts = {k: sum(1 for s in steps if s.status == k) for k in REFERENCE_MARKS}
    title = (f"reference · {len(steps)} actions: {counts['done']} done, {counts['differently']} differently, "
             f"{counts['missed']} missed" if steps else "reference")
    if reward is not None:
        title += f" · reward {reward:g}"
    return Collapsible(Static(body, id="reference-body"), collapsed=True, id="reference", title=title)


def outcome_words(correct: bool | None, resolved: bool | None, escalated: bool | None) -> str:
    """The session's outcome in words a reviewer reads, not Python values."""
    def word(value: bool | None, yes: str, no: str, unknown: str) -> str:
        return unknown if value is None else yes if value else no

    return " · ".join((word(correct, "✓ correct", "✗ not correct", "— correctness unknown"),
                       word(resolved, "✓ resolved", "✗ not resolved", "— resolution unknown"),
                       word(escalated, "handed to a human", "not escalated", "— escalation unknown")))


def machine_text(r: ReviewedVerdict, *, long: bool = False) -> Text:
    if r.machine is None:
        return Text("not applicable" if long else "n/a", style="dim")
    return Text("PASS", style="green") if r.machine else Text("FAIL", style="bold red")


def reviewer_text(r: ReviewedVerdict) -> Text:
    """The reviewer's newest verdict beside the machine's: `→ pass` where it overrides, `✓ fail` where it agrees."""
    if r.human is None:
        return Text("")
    return Text(f"{'→' if r.overridden else '✓'} {r.human}", style="bold magenta" if r.overridden else "magenta")


def evidence_places(evidence: Sequence[Evidence], *, short: bool = False) -> str:
    """Where evidence points: "turn 3 span S-1-t3", or with `short` the turn alone when there is one."""
    def place(e: Evidence) -> str:
        turn = f"turn {e.turn_index}" if e.turn_index is not None else ""
        span = f"span {e.span_id}" if e.span_id and not (short and turn) else ""
        return " ".join(p for p in (turn, span) if p)

    return ", ".join(place(e) for e in evidence)
