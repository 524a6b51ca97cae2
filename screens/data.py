"""The TUI's data layer: store reads and writes off the UI thread, answered by typed messages (dataclasses).

Screens never open a connection on the UI thread. `load` runs a read in a thread worker with its own
`Store` and posts what it found as a message the screen handles with `@on`; `save` does the same for a
write, waiting out another process's write lock (posting `DbBusy` once) instead of failing. Workers never
exit the app on error: a failure becomes a `LoadFailed` / `SaveFailed` message, which the app shows as a
notification unless the screen handles it first. Navigation requests from screens and widgets are
messages too (`OpenDashboard`, `GoBack`, `DatabaseReady`), so nothing calls up into the app by name.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker

from cstui.store import DbBusy as StoreBusy
from cstui.store import Store

if TYPE_CHECKING:
    from cstui.report_models import GateResult, Report
    from cstui.triage import Failures, SessionView


# Every screen's footer starts with these, so a narrow terminal still shows how to get help and out.
FIRST_KEYS = [Binding("question_mark", "app.help", "Help", key_display="?"), Binding("q", "app.quit", "Quit")]


# ---------------------------------------------------------------------------------------------- results
@dataclass
class ReportLoaded(Message):
    """A run's report, gate result and drift events (the dashboard)."""

    report: Report
    gate: GateResult
    drift: list[dict[str, Any]]
    marker: tuple[Any, ...]
    baseline: str | None = None


@dataclass
class RunsListed(Message):
    """Every run in the database (the runs screen)."""

    runs: list[dict[str, Any]]


@dataclass
class StartFound(Message):
    """What the app needs to know to open the screen it was started on (--queue, --session, --run)."""

    queue_exists: bool
    session_runs: list[str]
    run: str | None
    run_exists: bool


@dataclass
class MarkerRead(Message):
    """The store's change marker, read to learn whether what a screen shows is stale (a live run grows)."""

    marker: tuple[Any, ...]


@dataclass
class FailuresLoaded(Message):
    """The failing sessions of a run, each evaluator's measured precision, whether the run's full-text search index
    is built, and the store's change marker they were read at."""

    failures: Failures
    trust: dict[str, dict[str, Any] | None]
    indexed: bool = True
    marker: tuple[Any, ...] | None = None


@dataclass
class SearchIndexed(Message):
    """A run's full-text search index was built (in a process of its own)."""

    run: str


@dataclass
class SessionLoaded(Message):
    view: SessionView


@dataclass
class PairLoaded(Message):
    """One session as two runs hold it (baseline, candidate); a view is None when that run lacks the session."""

    baseline: SessionView | None
    candidate: SessionView | None


@dataclass
class CompareLoaded(Message):
    gate: GateResult
    candidate: Report
    baseline: Report
    systems: tuple[str | None, str | None] = (None, None)


@dataclass
class QueueLoaded(Message):
    view: SessionView
    items: list[dict[str, Any]]


@dataclass
class GateStatus(Message):
    """One run's gate outcome, for the runs list."""

    run: str
    passed: bool
    n_failed: int


@dataclass
class SearchHits(Message):
    """Sessions whose turns or tool results contain a phrase (full-text search)."""

    text: str
    session_ids: list[str]


@dataclass
class NavigationLoaded(Message):
    """The sessions a session screen steps through with n / p (the run's failing sessions)."""

    session_ids: list[str]


@dataclass
class GoldenSaved(Message):
    case: int


@dataclass
class LabelSaved(Message):
    label_id: int


@dataclass
class EvidenceExported(Message):
    """`E` wrote the evidence of the shown sessions to `path`."""

    path: Path
    rows: int
    sessions: int


@dataclass
class DbBusy(Message):
    """Another process holds the write lock; the write waits and retries (posted once per write)."""

    what: str


@dataclass
class LoadFailed(Message):
    what: str
    error: BaseException


@dataclass
class SaveFailed(Message):
    what: str
    error: BaseException


# ---------------------------------------------------------------------------------------------- navigation
@dataclass
class OpenDashboard(Message):
    run: str
    baseline: str | None = None


class GoBack(Message):
    """Escape at the top of a screen: to the previous one, or to the runs list."""


@dataclass
class DatabaseReady(Message):
    """A database was built (the demo, from the welcome screen): open it."""

    path: Path


# ---------------------------------------------------------------------------------------------- following the store
LIVE_POLL = 3.0  # seconds between a screen's looks at whether its run changed (`FollowsStore.poll`)


class FollowsStore:
    """For a screen showing data read at the store's change marker `seen` (set by its `load`, with `loading`):
    every LIVE_POLL seconds (`poll`, started by the screen) and when the screen comes back into view, it asks off the
    UI thread whether the marker moved — a run `cstui serve` or `cstui watch` is filling, a relabel or a rerun made
    elsewhere — and loads again if it did. The screen keeps its reviewer's place on a reload."""

    seen: tuple[Any, ...] | None = None
    loading = False

    def load(self) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        screen: Any = self
        if self.seen is not None and not self.loading and screen.is_current:
            load(screen, "marker", lambda store: MarkerRead(store.change_marker()), path=screen.store.path)

    def on_marker_read(self, message: MarkerRead) -> None:
        if self.seen is not None and message.marker != self.seen and not self.loading:
            self.load()

    def on_screen_resume(self) -> None:
        self.poll()


# ---------------------------------------------------------------------------------------------- workers
Fetched = Message | Iterable[Message] | None


def _post_all(node: Widget, result: Fetched) -> None:
    if result is None:
        return
    for message in [result] if isinstance(result, Message) else result:
        node.post_message(message)  # thread-safe: delivered on the UI thread


def run_in_thread(node: Widget, what: str, work: Callable[[], Fetched], *, group: str | None = None) -> Worker[None]:
    """Run `work` off the UI thread; post the message(s) it returns, or `LoadFailed`."""
    def body() -> None:
        try:
            _post_all(node, work())
        except Exception as exc:  # noqa: BLE001 - shown to the reviewer, never a crash
            node.post_message(LoadFailed(what, exc))

    return node.run_worker(body, thread=True, exclusive=True, group=group or what, exit_on_error=False)


def _open(node: Widget, db: Path) -> Store:
    """A connection of the worker's own to `db`, opened as the app opened it (read-only, a working copy) when it
    is the app's database."""
    app_store = getattr(node.app, "store", None)
    if app_store is not None and Path(db) == app_store.path:
        return app_store.reopen()
    return Store(db, mode="review")


def load(node: Widget, what: str, fetch: Callable[[Store], Fetched], *, path: Path | None = None,
         group: str | None = None) -> Worker[None]:
    """Read with a connection of the worker's own (SQLite connections are not shared across threads)."""
    db = path or node.app.db_path  # type: ignore[attr-defined]

    def work() -> Fetched:
        with _open(node, db) as store:
            result = fetch(store)
            # a generator reads lazily: drain it while the connection is open
            return result if result is None or isinstance(result, Message) else list(result)

    return run_in_thread(node, what, work, group=group)


_order = threading.Condition()
_tickets = itertools.count()
_serving = [0]


def save(node: Widget, what: str, write: Callable[[Store], Fetched], *, path: Path | None = None,
         retry_every: float = 1.0) -> Worker[None]:
    """Write in a worker; writes run one at a time in the order they were asked for (a reviewer's quick second
    verdict must land after the first). While another process holds the lock (a long import or eval), wait and
    retry rather than lose the reviewer's work: posts `DbBusy` once, then the written message or `SaveFailed`."""
    db = path or node.app.db_path  # type: ignore[attr-defined]
    ticket = next(_tickets)  # taken on the UI thread, in call order

    def body() -> None:
        with _order:
            _order.wait_for(lambda: _serving[0] == ticket)
        try:
            _write(node, what, write, db, retry_every)
        finally:
            with _order:
                _serving[0] += 1
                _order.notify_all()

    return node.run_worker(body, thread=True, group=f"save {what}", exit_on_error=False)


def _write(node: Widget, what: str, write: Callable[[Store], Fetched], db: Path, retry_every: float) -> None:
    told = False
    while True:
        try:
            with _open(node, db) as store:
                result = write(store)
            break
        except StoreBusy:
            if not told:
                told = True
                node.post_message(DbBusy(what))
            time.sleep(retry_every)
        except Exception as exc:  # noqa: BLE001 - a bad label, a vanished session: shown, never a crash
            node.post_message(SaveFailed(what, exc))
            return
    _post_all(node, result)
