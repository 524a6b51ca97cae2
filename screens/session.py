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
from textual.widgets import Collapsible, DataTable, Footer, Header, Static

from cstui.screens import data
from cstui.screens.data import LoadFailed, SessionLoaded
from cstui.screens.dialog import Dialog
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import SessionView
from cstui.validation import trust_text
from cstui.widgets.frustration_plot import FrustrationPlot
from cstui.widgets.span_tree import SpanTree, short, span_detail

ROLE_STYLES = {"customer": "bold cyan", "assistant": "bold green", "agent": "bold magenta", "system": "bold yellow",
               "tool": "bold blue"}


def turn_text(session: Any, index: int, highlight: str | tuple[int, int] | None = None) -> Text:
    """One turn: role, number, confidence, citations, draft decision, then its text (inert).

    `highlight`: (start, end) offsets into the turn's text — exact, whatever the text holds — or, for evidence
    recorded without offsets, the snippet to look for (its "…" ends trimmed)."""
    turn = session.turns[index]
    head = Text()
    head.append(f"#{index} ", style="dim")
    head.append(turn.role, style=ROLE_STYLES.get(turn.role, "bold"))
    if turn.confidence is not None:
        head.append(f"  confidence {turn.confidence:.2f}", style="dim")
    if turn.citations:
        head.append("  cites " + ", ".join(inert(c, keep_newlines=False) for c in turn.citations), style="dim")
    if turn.suppressed:
        head.append("  [suppressed: not shown to the customer]", style="yellow")
    draft = getattr(turn, "draft", None)
    if isinstance(draft, dict) and draft.get("decision"):
        head.append(f"  draft {inert(str(draft['decision']), keep_newlines=False)}", style="magenta")
    if isinstance(highlight, tuple) and 0 <= highlight[0] < highlight[1] <= len(turn.text):
        start, end = highlight  # each piece made inert on its own, so the offsets survive escapes being removed
        body = Text(inert(turn.text[:start], keep_newlines=True))
        body.append(inert(turn.text[start:end], keep_newlines=True), style="bold reverse red")
        body.append(inert(turn.text[end:], keep_newlines=True))
        return head + Text("\n") + body
    body = Text(inert(turn.text, keep_newlines=True) or "(empty)")
    if isinstance(highlight, str) and highlight.strip("…").strip():
        clean = inert(highlight.strip("…").strip(), keep_newlines=True)
        start = body.plain.find(clean)
        if start >= 0:
            body.stylize("bold reverse red", start, start + len(clean))
    return head + Text("\n") + body


class TurnView(Static):
    DEFAULT_CSS = """
    TurnView { padding: 0 1; margin-bottom: 1; }
    TurnView.evidence { border-left: thick $error; background: $error 15%; }
    """


class KBScreen(Dialog[None]):
    """The KB articles a session cited or retrieved, every revision, deprecated ones marked."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,k,q", "dismiss", "Close")]

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


class JudgeTranscriptScreen(Dialog[None]):
    """The full judge exchange behind one verdict: every prompt and reply, tokens and cost."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,j,q", "dismiss", "Close")]

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        detail = self.result["detail"] or {}
        text = Text(f"{self.result['evaluator']} {self.result['evaluator_version']} · model "
                    f"{inert(str(detail.get('model')))} · strategy {detail.get('strategy')}\n", style="bold")
        for step in detail.get("steps", []):
            cost = step.get("cost_usd")
            text.append(f"\n── {step['step']}", style="bold cyan")
            text.append(f"  {step.get('prompt_tokens', 0)}+{step.get('completion_tokens', 0)} tokens"
                        f"{'' if cost is None else f', ${cost:.5f}'}{' (cached)' if step.get('cached') else ''}"
                        f"{' · reply constrained to the verdict JSON schema' if step.get('schema') else ''}\n",
                        style="dim")
            text.append("prompt:\n", style="bold")
            text.append(inert(step.get("prompt", ""), keep_newlines=True) + "\n")
            text.append("reply:\n", style="bold")
            text.append(inert(step.get("reply", ""), keep_newlines=True) + "\n", style="green")
        if "verdict" in detail:
            text.append("\nverdict: ", style="bold")
            text.append(inert(json.dumps(detail["verdict"], ensure_ascii=False)))
        with VerticalScroll(classes=self.BOX):
            yield Static(text)


class SessionDetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.back", "Back"),
        Binding("n", "step(1)", "Next failed"),
        Binding("p", "step(-1)", "Previous failed"),
        Binding("l", "relabel", "Relabel…"),
        Binding("r", "rerun", "Rerun…"),
        Binding("K", "kb", "KB articles", key_display="K"),
        Binding("J", "judge_transcript", "Judge transcript", key_display="J"),
        Binding("g", "golden", "Add to regression set"),
        Binding("tab", "app.focus_next", "Next pane", show=False),
        Binding("shift+tab", "app.focus_previous", "Previous pane", show=False),
    ]
    DEFAULT_CSS = """
    SessionDetailScreen #meta { height: auto; padding: 0 1; background: $panel; }
    SessionDetailScreen #main { height: 2fr; }
    SessionDetailScreen #transcript { width: 3fr; border: round $primary; }
    SessionDetailScreen #right { width: 2fr; }
    SessionDetailScreen #spans { height: 1fr; border: round $primary; }
    SessionDetailScreen #span-detail { height: 1fr; border: round $primary; padding: 0 1; }
    SessionDetailScreen #bottom { height: 1fr; min-height: 8; }
    SessionDetailScreen #verdicts { width: 3fr; border: round $primary; }
    SessionDetailScreen #why { width: 2fr; border: round $primary; padding: 0 1; }
    SessionDetailScreen #label-history { margin-top: 1; }
    SessionDetailScreen #transcript:focus-within, SessionDetailScreen #spans:focus,
    SessionDetailScreen #verdicts:focus, SessionDetailScreen #span-detail:focus,
    SessionDetailScreen #why:focus { border: round $accent; }
    """

    def __init__(self, store: Store, run: str, session_id: str, navigation: Sequence[str] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.store = store
        self.run = run
        self.session_id = session_id
        self.navigation = navigation or [session_id]
        self.on_change = on_change
        self.view: SessionView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="meta")
        with Horizontal(id="main"):
            yield VerticalScroll(id="transcript")
            with Vertical(id="right"):
                yield FrustrationPlot(id="frustration")
                yield SpanTree(id="spans")
                with VerticalScroll(id="span-detail"):
                    yield Static(Text("select a span to read its arguments and result", style="dim"),
                                 id="span-text")
        with Horizontal(id="bottom"):
            yield DataTable(id="verdicts", cursor_type="row")
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
        self.load()

    def load(self) -> None:
        run, session_id = self.run, self.session_id

        def fetch(store: Store) -> SessionLoaded:
            from cstui.triage import session_view

            return SessionLoaded(session_view(store, run, session_id))

        data.load(self, "session", fetch, path=self.store.path)

    @on(SessionLoaded)
    async def _session_loaded(self, message: SessionLoaded) -> None:
        await self.show(message.view)

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        """A session that cannot be read (an id not in the run): say so and go back, never a traceback."""
        message.stop()
        self.notify(f"cannot open session {self.session_id!r} of run {self.run!r}: {message.error}",
                    severity="error", timeout=10)
        self.app.pop_screen()

    # ------------------------------------------------------------------ rendering
    async def show(self, view: SessionView) -> None:
        self.view = view
        s = view.session
        position = (f" · {self.navigation.index(s.session_id) + 1}/{len(self.navigation)} in filter"
                    if s.session_id in self.navigation and len(self.navigation) > 1 else "")
        self.sub_title = inert(f"{self.run} · {s.session_id}", keep_newlines=False)
        meta = Text()
        meta.append(inert(s.session_id, keep_newlines=False), style="bold")
        for key, value in (("tier", s.tier), ("intent", s.intent), ("channel", s.channel), ("segment", s.segment),
                           ("category", s.category), ("started", s.started_at)):
            if value is not None:
                meta.append(f"  {key} ", style="dim")
                meta.append(inert(str(value), keep_newlines=False))
        out = s.outcome
        meta.append(f"  correct {out.correct}  resolved {out.resolved}  escalated {out.escalated}", style="dim")
        failed = [r["evaluator"] for r in view.failed]
        meta.append("\nfailed: " if failed else "\nno failed verdicts", style="bold red" if failed else "green")
        meta.append(", ".join(failed), style="red")
        meta.append(position, style="dim")
        self.query_one("#meta", Static).update(meta)
        await self._show_transcript(view)
        await self.query_one("#frustration", FrustrationPlot).show(view.frustration, view.frustration_threshold)
        self._show_spans(view)
        self._show_verdicts(view)
        self._show_labels(view)

    def _turn_text(self, index: int, highlight: str | tuple[int, int] | None = None) -> Text:
        assert self.view is not None
        return turn_text(self.view.session, index, highlight)

    async def _show_transcript(self, view: SessionView) -> None:
        box = self.query_one("#transcript", VerticalScroll)
        await box.remove_children()
        widgets: list[Widget] = []
        for i, turn in enumerate(view.session.turns):
            widget = TurnView(self._turn_text(i), id=f"turn-{i}")
            if turn.role == "system":  # the deployment's policy: long, and read once — folded away
                first_line = inert(turn.text.strip().splitlines()[0] if turn.text.strip() else "", keep_newlines=False)
                widgets.append(Collapsible(widget, collapsed=True, id=f"system-{i}",
                                           title=f"#{i} system prompt · {len(turn.text):,} chars · {first_line[:60]}"))
            else:
                widgets.append(widget)
        if not widgets:
            widgets.append(Static(Text("This session has no turns: its trace held spans but no readable conversation.",
                                       style="italic")))
        await box.mount_all(widgets)

    def _show_spans(self, view: SessionView) -> None:
        self.query_one("#spans", SpanTree).show(view.session.spans)

    def _show_verdicts(self, view: SessionView) -> None:
        table = self.query_one("#verdicts", DataTable)
        table.clear(columns=True)
        table.add_columns("evaluator", "verdict", "human", "precision", "evidence", "rationale")
        ordered = sorted(view.results, key=lambda r: (r["passed"] is not False, r["passed"] is None, r["evaluator"]))
        for r in ordered:
            verdict = (Text("n/a", style="dim") if r["passed"] is None
                       else Text("PASS", style="green") if r["passed"] else Text("FAIL", style="bold red"))
            human = Text(r["human_verdict"] or "", style="bold magenta")
            where = ", ".join(
                f"turn {e.get('turn_index')}" if e.get("turn_index") is not None else f"span {e.get('span_id')}"
                for e in r["evidence"][:2])
            table.add_row(Text(r["evaluator"]), verdict, human, Text(*trust_text(view.trust.get(r["evaluator"]), short=True)),
                          Text(inert(where, keep_newlines=False)),
                          Text(short(r["rationale"] or "", 200)), key=r["evaluator"])
        if ordered:
            table.focus()
            table.move_cursor(row=0)  # the first failing verdict: its reason, evidence and span are what to read
            self.select_verdict(ordered[0]["evaluator"])
        else:
            self.query_one("#why-text", Static).update(Text("no verdicts yet: press r to run evaluators", style="dim"))

    def _show_labels(self, view: SessionView) -> None:
        text = Text()
        if not view.labels:
            text.append("no labels yet — press l to relabel", style="dim")
        for lab in reversed(view.labels):
            text.append(f"{lab['created_at']} ", style="dim")
            text.append(inert(lab["reviewer"], keep_newlines=False), style="bold")
            what = []
            if lab["evaluator"]:
                what.append(f"{lab['evaluator']}={lab['verdict']}")
            for key in ("correct", "tier", "intent", "reason"):
                if lab[key] is not None:
                    what.append(f"{key}={lab[key]}")
            text.append(" " + inert(", ".join(what), keep_newlines=False) + "\n")
            if lab["note"]:
                text.append(f"  “{inert(lab['note'], keep_newlines=False)}”\n", style="italic")
        self.query_one("#label-history", Static).update(text)

    # ------------------------------------------------------------------ actions
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.jump_to_evidence(str(event.row_key.value))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "verdicts" and event.row_key is not None and event.row_key.value:
            self.select_verdict(str(event.row_key.value))

    @on(SpanTree.Selected)
    def _span_selected(self, event: SpanTree.Selected) -> None:
        self.query_one("#span-text", Static).update(span_detail(event.span))
        self.query_one("#span-detail", VerticalScroll).scroll_home(animate=False)

    def select_verdict(self, evaluator: str) -> None:
        """Show a verdict's whole reason in the why pane, highlight its evidence, select its span."""
        if self.view is None:
            return
        result = next((r for r in self.view.results if r["evaluator"] == evaluator), None)
        if result is None:
            return
        text = Text()
        verdict = "not applicable" if result["passed"] is None else "PASS" if result["passed"] else "FAIL"
        text.append(f"{inert(evaluator, keep_newlines=False)} ", style="bold")
        text.append(verdict, style="bold red" if result["passed"] is False else "green" if result["passed"] else "dim")
        text.append(f"  v{inert(str(result['evaluator_version']), keep_newlines=False)}", style="dim")
        if result["human_verdict"]:
            text.append(f"  reviewer says {result['human_verdict']}", style="bold magenta")
        trust, style = trust_text(self.view.trust.get(evaluator))
        text.append(f"\nprecision {trust}\n", style=style)
        text.append(inert(result["rationale"] or "(no rationale)", keep_newlines=True) + "\n")
        for ev in result["evidence"][:6]:
            where = (f"turn {ev.get('turn_index')}" if ev.get("turn_index") is not None else "") + (
                f" span {ev.get('span_id')}" if ev.get("span_id") else "")
            text.append(f"• {inert(where.strip(), keep_newlines=False)}", style="dim")
            if ev.get("snippet"):
                text.append(f"  “{inert(ev['snippet'], keep_newlines=False)}”", style="italic")
            text.append("\n")
        self.query_one("#why-text", Static).update(text)
        self.jump_to_evidence(evaluator, quiet=True)

    def jump_to_evidence(self, evaluator: str, *, quiet: bool = False) -> None:
        if self.view is None:
            return
        result = next((r for r in self.view.results if r["evaluator"] == evaluator), None)
        if result is None:
            return
        for turn in self.query(TurnView):
            turn.remove_class("evidence")
            index = int(str(turn.id).split("-")[1])
            turn.update(self._turn_text(index))
        if not result["evidence"]:
            if not quiet:
                self.notify(f"{evaluator}: no evidence pointer recorded", severity="information")
            return
        first_turn = None
        for ev in result["evidence"]:
            if ev.get("turn_index") is not None and 0 <= ev["turn_index"] < len(self.view.session.turns):
                for fold in self.query(f"#system-{ev['turn_index']}").results(Collapsible):
                    fold.collapsed = False
                widget = self.query_one(f"#turn-{ev['turn_index']}", TurnView)
                widget.add_class("evidence")
                offsets = (ev["start"], ev["end"]) if isinstance(ev.get("start"), int) and isinstance(ev.get("end"), int) \
                    else None
                widget.update(self._turn_text(ev["turn_index"], offsets or ev.get("snippet")))
                first_turn = first_turn or widget
            if ev.get("span_id"):
                self.query_one("#spans", SpanTree).select_span(ev["span_id"])
        if first_turn is not None:  # after the next refresh: turns mounted just now have no layout yet
            transcript = self.query_one("#transcript", VerticalScroll)
            self.call_after_refresh(transcript.scroll_to_widget, first_turn, animate=False, top=True)

    def action_step(self, delta: int) -> None:
        if self.session_id not in self.navigation or len(self.navigation) < 2:
            self.notify("No other sessions in the current filter.", severity="information")
            return
        index = (self.navigation.index(self.session_id) + delta) % len(self.navigation)
        self.session_id = self.navigation[index]
        self.load()

    def _changed(self) -> None:
        self.load()
        if self.on_change:
            self.on_change()

    def action_relabel(self) -> None:
        from cstui.screens.relabel import RelabelScreen

        if self.view is None:
            return
        focused = self.query_one("#verdicts", DataTable)
        evaluator = None
        if focused.row_count:
            evaluator = str(focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value)

        def done(saved: bool | None) -> None:
            if saved:
                self._changed()

        self.app.push_screen(RelabelScreen(self.store, self.view, evaluator), done)

    def action_rerun(self) -> None:
        from cstui.screens.rerun import RerunScreen

        def done(changed: bool | None) -> None:
            if changed:
                self._changed()

        scopes = {"session": [self.session_id], "filter": list(self.navigation)}
        failed = tuple(r["evaluator"] for r in self.view.failed) if self.view else ()
        self.app.push_screen(RerunScreen(self.store, self.run, scopes, chosen=failed), done)

    def action_judge_transcript(self) -> None:
        if self.view is None:
            return
        table = self.query_one("#verdicts", DataTable)
        if not table.row_count:
            return
        evaluator = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        result = next((r for r in self.view.results if r["evaluator"] == evaluator), None)
        if result is None or not result.get("detail"):
            self.notify(f"{evaluator} is not an LLM judge verdict: no judge transcript", severity="information")
            return
        self.app.push_screen(JudgeTranscriptScreen(result))

    def action_golden(self) -> None:
        from cstui.screens.pick import AskScreen

        if self.view is None:
            return

        def save(reason: str | None) -> None:
            if not reason:
                return
            from cstui.config import load_config

            failed = [r["evaluator"] for r in self.view.failed] if self.view else []
            case = self.store.add_golden(self.run, self.session_id, reason,
                                         evaluator=failed[0] if len(failed) == 1 else None,
                                         reviewer=load_config().reviewer)
            self.notify(f"regression case #{case} added")

        self.app.push_screen(AskScreen(f"Add {self.session_id} to the regression set — why?",
                                       "reason, e.g. fabricated refund window"), save)

    def action_kb(self) -> None:
        if self.view is not None:
            self.app.push_screen(KBScreen(self.view))
