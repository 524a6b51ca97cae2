"""FailuresScreen: the failing sessions of a run, filtered, sorted and selectable for batch actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from cstui.screens import data
from cstui.screens.data import FailuresLoaded, GoBack, SearchHits, SearchIndexed
from cstui.store import Store
from cstui.textsafe import inert
from cstui.triage import COLUMNS, LABEL_STATES, FailureFilter
from cstui.widgets.failure_table import FailureTable

if TYPE_CHECKING:
    from textual.timer import Timer

    from cstui.triage import FailureRows, Failures


# How long typing must pause before the full-text search runs (the in-memory filter answers every keystroke).
SEARCH_PAUSE = 0.3


class FailuresScreen(data.FollowsStore, Screen[None]):
    HELP = ("The failing sessions of the filter above the table (or every session with v). enter opens one; n / p "
            "there step through this list. / searches ids, intents, evaluators and (once indexed) what was said and "
            "what the tools returned. space selects sessions for a rerun.")
    BINDINGS: ClassVar[list[BindingType]] = [
        *data.FIRST_KEYS,
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("t", "cycle_tier", "Tier"),
        Binding("e", "pick('evaluator')", "Evaluator"),
        Binding("i", "pick('intent')", "Intent"),
        Binding("h", "pick('channel')", "Channel"),
        Binding("C", "pick('category')", "Category", key_display="C"),
        Binding("L", "cycle_label_state", "Labelled?", key_display="L"),
        Binding("v", "toggle_passing", "All sessions"),
        Binding("backspace", "clear", "Clear filter", key_display="⌫"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse sort", show=False),
        Binding("F", "sort_frustration", "Most frustrated first", key_display="F"),
        Binding("r", "rerun", "Rerun…"),
        Binding("E", "export_evidence", "Export evidence", key_display="E"),
    ]
    DEFAULT_CSS = """
    FailuresScreen #filter { height: 1; padding: 0 1; background: $panel; }
    FailuresScreen #search { display: none; }
    FailuresScreen #search.shown { display: block; }
    FailuresScreen #status { height: 1; padding: 0 1; color: $text-muted; }
    FailuresScreen #trust { height: auto; max-height: 3; padding: 0 1; }
    """

    def __init__(self, store: Store, run: str, failure_filter: FailureFilter | None = None,
                 baseline: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.run = run
        self.baseline = baseline  # the run these sessions flipped against, when opened from the compare screen
        self.filter = failure_filter or FailureFilter()
        self.all: Failures | None = None
        self.shown: FailureRows | None = None
        self._failing = 0  # failing sessions in the whole run, counted once per load
        self._search_timer: Timer | None = None
        self.trust: dict[str, dict[str, Any] | None] = {}
        self.index_state = "unknown"  # the run's full-text index: unknown, missing, building, ready
        self.seen: tuple[Any, ...] | None = None  # the store's change marker the table was read at
        self.loading = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="filter")
        yield Input(placeholder="search: words said, tool results, session id, intent, evaluator… (enter keeps, esc closes)",
                    id="search")
        yield FailureTable(id="failures")
        yield Static(id="trust")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = inert(f"failures · {self.run}", keep_newlines=False)
        self.query_one("#status", Static).update("loading failing sessions…")
        self.load()
        self.set_interval(data.LIVE_POLL, self.poll)

    def load(self) -> None:
        run = self.run
        self.loading = True

        def fetch(store: Store) -> FailuresLoaded:
            from cstui.triage import failures
            from cstui.validation import run_trust

            marker = store.change_marker()  # before reading: a change during the read is seen by the next poll
            return FailuresLoaded(failures(store, run), run_trust(store, run), store.search_index_current(run), marker)

        data.load(self, "failures", fetch, path=self.store.path)

    @on(FailuresLoaded)
    def _loaded(self, message: FailuresLoaded) -> None:
        import gc

        table = self.query_one(FailureTable)
        first = self.all is None
        at = table.current_session_id  # on a reload the cursor stays on its session while it is still listed
        self.all, self.trust, self.seen, self.loading = message.failures, message.trust, message.marker, False
        self._failing = self.all.failing_count
        if self.index_state != "building":
            self.index_state = "ready" if message.indexed else "missing"
        gc.freeze()  # what is loaded now lives as long as the screen: keep it out of every GC pass
        self.apply_filter(keep_cursor=not first)
        if at is not None and self.shown is not None and at in (ids := self.shown.ids()):
            table.cursor = ids.index(at)
        if first:
            table.focus()

    def reload(self) -> None:
        """After a relabel or a rerun: verdicts changed, so rebuild the table."""
        self.load()

    # ------------------------------------------------------------------ filtering
    def apply_filter(self, *, keep_cursor: bool = False) -> None:
        if self.all is None:
            return
        table = self.query_one(FailureTable)
        shown = self.all.view(self.filter, table.sort_column, table.sort_descending, previous=self.shown)
        self.shown = shown
        table.set_rows(shown, keep_cursor=keep_cursor)
        text = Text("filter: ", style="bold")
        text.append(inert(self.filter.describe(), keep_newlines=False))
        if table.sort_column:
            text.append(f"   sort: {table.sort_column}{' ↓' if table.sort_descending else ' ↑'}", style="dim")
        self.query_one("#filter", Static).update(text, layout=False)  # fixed height: no relayout per keystroke
        self._show_trust(shown)
        self._status()

    def _show_trust(self, shown: FailureRows) -> None:
        """How often each evaluator failing in the shown rows is right, so the reviewer knows which flags to doubt."""
        from cstui.validation import trust_text

        present = shown.failed_evaluators
        text = Text("precision of these flags: ", style="bold")
        if not present:
            text.append("—", style="dim")
        for i, evaluator in enumerate(present):
            if i:
                text.append(" · ")
            text.append(inert(evaluator, keep_newlines=False) + " ")
            text.append(*trust_text(self.trust.get(evaluator)))
        if text.plain != getattr(self, "_last_trust", None):
            self._last_trust = text.plain
            self.query_one("#trust", Static).update(text)

    def _status(self) -> None:
        table = self.query_one(FailureTable)
        total = 0 if self.all is None else self._failing
        selected = f" · {len(table.selected)} selected" if table.selected else ""
        if self.index_state == "building":
            selected += " · indexing what was said for search…"
        shown = ("labelled sessions" if self.filter.label_state == "labeled"
                 else f"of {self.all.height if self.all is not None else 0:,} sessions" if self.filter.include_passing
                 else f"of {total:,} failing sessions")
        status = (f"{table.row_count:,} {shown}{selected} · enter open · space select · "
                  "L labelled · r rerun · ⌫ clear filter · ? help")
        if status != getattr(self, "_last_status", None):
            self._last_status = status
            self.query_one("#status", Static).update(status, layout=False)

    def on_failure_table_highlighted(self, _: FailureTable.Highlighted) -> None:
        self._status()

    def on_failure_table_opened(self, event: FailureTable.Opened) -> None:
        from cstui.screens.session import SessionDetailScreen

        ids = self.query_one(FailureTable).shown_ids()
        searched = self.filter.text if self.filter.text_hits else ""  # a hit of what was said: scroll to it
        self.app.push_screen(SessionDetailScreen(self.store, self.run, event.session_id, ids,
                                                 on_change=self.reload, baseline=self.baseline, find=searched))

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("shown")
        box.value = self.filter.text
        box.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        """Ids, intents and evaluator names filter at once; the transcript and tool-result hits (full-text
        search) join once typing pauses: a search per keystroke over a million sessions' text ran several
        queries at once and slowed the typing it answered."""
        text = event.value.strip()
        self.filter = self.filter.with_(text=text, text_hits=())
        self.apply_filter()
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        if self.index_state == "ready":
            self._search_timer = self.set_timer(SEARCH_PAUSE, lambda: self._full_text_search(text))
        else:
            self._full_text_search(text)

    def _full_text_search(self, text: str) -> None:
        """Hits in what was said join the filter; a run searched for the first time is indexed first, once, in a
        process of its own (typing stays quick), and the search runs when the index is ready."""
        self._search_timer = None
        if len(text) < 3 or text != self.filter.text:
            return
        run = self.run
        if self.index_state == "ready":
            data.load(self, "search", lambda store: SearchHits(text, store.search_session_ids(run, text)),
                      path=self.store.path)
        elif self.index_state == "missing":
            from cstui.store.search import index_in_subprocess

            self.index_state = "building"
            self._status()
            data.load(self, "index", lambda store: (index_in_subprocess(store, run), SearchIndexed(run))[1],
                      path=self.store.path)

    @on(SearchIndexed)
    def _indexed(self, _: SearchIndexed) -> None:
        self.index_state = "ready"
        self._status()
        self._full_text_search(self.filter.text)

    @on(SearchHits)
    def _search_hits(self, message: SearchHits) -> None:
        if message.text == self.filter.text and message.session_ids:
            self.filter = self.filter.with_(text_hits=tuple(message.session_ids))
            self.apply_filter(keep_cursor=True)

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.query_one("#search", Input).remove_class("shown")
        self.query_one(FailureTable).focus()

    def action_export_evidence(self) -> None:
        """Write the governance evidence of the sessions the filter shows (what `cstui export --what evidence`
        writes, those sessions only) to a file in the working directory, off the UI thread."""
        import os
        from datetime import datetime
        from pathlib import Path

        ids = self.query_one(FailureTable).visible_session_ids()
        if not ids:
            self.notify("no sessions shown: nothing to export", severity="warning")
            return
        run = self.run
        folder = Path(os.environ.get("CSTUI_EXPORT_DIR") or Path.cwd())
        path = folder / f"cstui-evidence-{run}-{datetime.now():%Y%m%d-%H%M%S}.jsonl"

        def write(store: Store) -> data.EvidenceExported:
            from cstui.export import export

            n = export(store, run, what="evidence", fmt="jsonl", out=path, session_ids=ids)
            return data.EvidenceExported(path, n, len(ids))

        self.notify(f"exporting the evidence of {len(ids):,} sessions…")
        data.load(self, "export", write)

    @on(data.EvidenceExported)
    def _evidence_exported(self, message: data.EvidenceExported) -> None:
        self.notify(f"wrote {message.rows:,} evidence rows ({message.sessions:,} sessions) to "
                    f"{inert(str(message.path), keep_newlines=False)}", timeout=10)

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_class("shown"):
            box.remove_class("shown")
            self.query_one(FailureTable).focus()
        else:
            self.post_message(GoBack())

    def action_cycle_tier(self) -> None:
        order = [(), (1,), (2,), (3,)]
        current = self.filter.tiers if self.filter.tiers in order else ()
        self.filter = self.filter.with_(tiers=order[(order.index(current) + 1) % len(order)])
        self.apply_filter()

    def action_toggle_passing(self) -> None:
        """Every session of the run (same filters), or only the failing ones."""
        self.filter = self.filter.with_(include_passing=not self.filter.include_passing)
        self.apply_filter()

    def action_cycle_label_state(self) -> None:
        nxt = LABEL_STATES[(LABEL_STATES.index(self.filter.label_state) + 1) % len(LABEL_STATES)]
        self.filter = self.filter.with_(label_state=nxt)
        self.apply_filter()

    def action_pick(self, field: str) -> None:
        from cstui.screens.pick import PickScreen

        if self.all is None:
            return
        options = self.all.evaluators() if field == "evaluator" else self.all.values(field)
        attr = {"evaluator": "evaluators", "intent": "intents", "channel": "channels", "category": "categories"}[field]

        def chosen(value: str | None) -> None:
            if value is not None:
                self.filter = self.filter.with_(**{attr: () if value == "" else (value,)})
                self.apply_filter()

        self.app.push_screen(PickScreen(f"Filter by {field}", options), chosen)

    def action_clear(self) -> None:
        self.filter = FailureFilter()
        self.query_one("#search", Input).value = ""
        self.apply_filter()

    def action_sort(self) -> None:
        table = self.query_one(FailureTable)
        order = [None, *COLUMNS]
        table.sort_column = order[(order.index(table.sort_column) + 1) % len(order)]
        table.sort_descending = False
        self.apply_filter()

    def action_sort_frustration(self) -> None:
        """Highest frustration score first (the frustration evaluator's 0-1 score; — where it has not run)."""
        table = self.query_one(FailureTable)
        table.sort_column, table.sort_descending = "frustration", True
        self.apply_filter()

    def action_reverse(self) -> None:
        table = self.query_one(FailureTable)
        if table.sort_column:
            table.sort_descending = not table.sort_descending
            self.apply_filter()

    def action_rerun(self) -> None:
        from cstui.screens.rerun import RerunScreen

        table = self.query_one(FailureTable)
        scopes = {"selection": sorted(table.selected), "filter": table.visible_session_ids()}
        if table.current_session_id:
            scopes["session"] = [table.current_session_id]

        def done(changed: bool | None) -> None:
            if changed:
                self.reload()

        self.app.push_screen(RerunScreen(self.store, self.run, scopes, chosen=self.filter.evaluators), done)
