"""The Textual application shell: opens the store, routes between screens, owns global key bindings.

Screens live in `cstui.screens`; each has one job and talks to the core API only. `create_app` is
shared by the CLI, the tests and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.screen import Screen

import cstui.screens
from cstui.screens.data import (
    DatabaseReady,
    DbBusy,
    GoBack,
    LoadFailed,
    OpenDashboard,
    SaveFailed,
    StartFound,
)
from cstui.store import Store
from cstui.textsafe import inert
from cstui.widgets.inert_filter import InertFilter

_INERT = InertFilter()


class CstuiApp(App[None]):
    # what several screens share (dialogs); beside the screens' modules (importlib.resources took 13 ms to import)
    CSS_PATH = str(Path(cstui.screens.__file__).with_name("cstui.tcss"))
    TITLE = "cstui"
    SUB_TITLE = "customer-service LLM evaluation"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
    ]

    def __init__(self, db_path: Path, run: str | None = None, session: str | None = None,
                 queue: str | None = None, baseline: str | None = None, store: Store | None = None,
                 failures: Any = None):
        super().__init__()
        self.start_failures = failures  # a FailureFilter: open the run's failures list (--failures, --rule)
        self.start_baseline = baseline
        self.db_path = db_path
        self.start_run = run
        self.start_session = session
        self.start_queue = queue
        # "review": written to when it can be; a read-only, foreign or older file is browsed and says why
        self.store: Store | None = store or (Store(db_path, mode="review") if db_path.exists() else None)

    def on_mount(self) -> None:
        if self.store is None:
            from cstui.demo import demo_db_path
            from cstui.screens.welcome import WelcomeScreen

            self.push_screen(WelcomeScreen(self.db_path, demo_db_path()))
            return
        self._open_start_screens()

    def _open_start_screens(self) -> None:
        """Look up (in a worker) what the screen asked for on the command line needs, then open it."""
        from cstui.screens import data

        assert self.store is not None
        self.sub_title = inert(str(self.db_path) + ("  [read-only]" if self.store.read_only else ""),
                               keep_newlines=False)
        for notice in self.store.notices:
            self.notify(notice, timeout=10)
        queue, session, run = self.start_queue, self.start_session, self.start_run

        def fetch(store: Store) -> StartFound:
            queue_exists = bool(queue) and any(q["name"] == queue for q in store.review_queues())
            session_runs = store.runs_of_session(session) if session and not run else []
            chosen = run or (session_runs[0] if len(session_runs) == 1 else None)
            return StartFound(queue_exists, session_runs, chosen, bool(chosen) and store.has_run(chosen))

        data.load(self, "start", fetch, path=self.store.path)

    @on(StartFound)
    def _start_found(self, found: StartFound) -> None:
        """Only the screen asked for is built: the runs screen comes when the reviewer goes back to it."""
        from cstui.screens.runs import RunsScreen

        assert self.store is not None
        if self.start_queue:
            from cstui.screens.review import ReviewScreen

            if found.queue_exists:
                self.push_screen(ReviewScreen(self.store, self.start_queue))
                return
            self.notify(f"no review queue named {self.start_queue!r}", severity="error")
        elif self.start_session and found.run is None and found.session_runs:  # in several runs: ask which
            def chosen(run: str | None) -> None:
                if run:
                    self.start_run = run
                    self._open_start_screens()

            from cstui.screens.pick import PickScreen

            self.push_screen(RunsScreen(self.store))
            self.push_screen(PickScreen(f"Session {inert(self.start_session)} is in {len(found.session_runs)} runs: "
                                        "open it in", found.session_runs, allow_any=False), chosen)
            return
        elif found.run:
            if found.run_exists:
                self.start_run = found.run
                self.open_dashboard(found.run, self.start_baseline)
                if self.start_failures is not None:
                    from cstui.screens.failures import FailuresScreen

                    self.push_screen(FailuresScreen(self.store, found.run, self.start_failures))
                if self.start_session:
                    from cstui.screens.session import SessionDetailScreen

                    self.push_screen(SessionDetailScreen(self.store, found.run, self.start_session))
                return
            self.notify(f"no run named {found.run!r} in this database", severity="error")
        self.push_screen(RunsScreen(self.store))

    @on(OpenDashboard)
    def _open_dashboard(self, message: OpenDashboard) -> None:
        self.open_dashboard(message.run, message.baseline)

    @on(GoBack)
    def _go_back(self) -> None:
        self.action_back()

    @on(DatabaseReady)
    def _database_ready(self, message: DatabaseReady) -> None:
        self.open_database(message.path)

    @on(LoadFailed)
    @on(SaveFailed)
    def _worker_failed(self, message: LoadFailed | SaveFailed) -> None:
        """A screen that does not handle its own failure: tell the reviewer, keep the app running."""
        verb = "load" if isinstance(message, LoadFailed) else "save"
        self.notify(f"could not {verb} {message.what}: {type(message.error).__name__}: {message.error}",
                    severity="error", timeout=10)

    @on(DbBusy)
    def _db_busy(self, message: DbBusy) -> None:
        self.notify(f"the database is busy (another process is writing); {message.what} will be saved when it is "
                    "free", timeout=10)

    def action_back(self) -> None:
        """Escape: to the previous screen, or to the runs screen when the app was opened deeper."""
        from cstui.screens.runs import RunsScreen

        if len(self.screen_stack) > 2:
            self.pop_screen()
        elif self.store is not None and not isinstance(self.screen, RunsScreen):
            self.switch_screen(RunsScreen(self.store))

    def open_database(self, path: Path) -> None:
        """Switch to another database (after the welcome screen built the demo)."""
        if self.store is not None:
            self.store.close()
        self.db_path = path
        self.store = Store(path, mode="review")
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self._open_start_screens()

    def open_dashboard(self, run: str, baseline: str | None = None) -> None:
        """A run's dashboard, compared with `baseline` (then remembered for that run) or the remembered one."""
        from cstui.screens import data
        from cstui.screens.dashboard import DashboardScreen

        assert self.store is not None
        if baseline is not None and baseline != run:
            data.save(self, "baseline", lambda store: store.set_baseline(run, baseline), path=self.store.path)
        self.push_screen(DashboardScreen(self.store, run, baseline))  # without one, the remembered baseline

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notifications often quote run names, session ids or errors: never parse them as markup."""
        super().notify(inert(str(message), keep_newlines=False), title=inert(title, keep_newlines=False),
                       severity=severity, timeout=timeout, markup=False)

    def action_cursor(self, direction: str) -> None:
        """j / k (and home / end): the vi keys for whatever list, table, tree or scrolling pane has focus."""
        widget = self.focused
        if direction in ("home", "end"):
            table_move = getattr(widget, "move_cursor", None)
            if table_move is not None and getattr(widget, "row_count", 0):
                table_move(row=0 if direction == "home" else widget.row_count - 1)  # type: ignore[union-attr]
                return
            names = ("action_first", f"action_scroll_{direction}") if direction == "home" else (
                "action_last", f"action_scroll_{direction}")
        else:
            names = (f"action_cursor_{direction}", f"action_scroll_{direction}")
        action = next((getattr(widget, n) for n in names if hasattr(widget, n)), None)
        if action is not None:
            action()

    def action_help(self) -> None:
        from cstui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_help_quit(self) -> None:
        """ctrl+c does not quit (it copies in an input): say what does, in plain words."""
        self.notify("press q to quit (ctrl+q from a text field)", title="Quit?")

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then `InertFilter`: no control sequence from a file reaches the terminal."""
        return [*super().get_line_filters(), _INERT]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette lists the built-ins plus every key binding of the current screen and its widgets."""
        yield from super().get_system_commands(screen)
        seen = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.description in seen or binding.action in ("quit", "help"):
                continue
            seen.add(binding.description)
            yield SystemCommand(binding.description, f"key: {binding.key_display or key}",
                                partial(self.run_action, binding.action, active.node))

    def on_unmount(self) -> None:
        if self.store is not None:
            self.store.close()


def create_app(db_path: Path, run: str | None = None, session: str | None = None,
               queue: str | None = None, baseline: str | None = None, store: Store | None = None,
               failures: Any = None) -> CstuiApp:
    return CstuiApp(db_path, run=run, session=session, queue=queue, baseline=baseline, store=store, failures=failures)


def run_app(db_path: Path, run: str | None = None, session: str | None = None, queue: str | None = None,
            baseline: str | None = None, store: Store | None = None, failures: Any = None) -> int:
    """Run the TUI; the exit code is not 0 when it stopped on an error."""
    app = create_app(db_path, run=run, session=session, queue=queue, baseline=baseline, store=store,
                     failures=failures)
    app.run()
    return app.return_code or 0
