"""HelpScreen: the keys of the screen it was opened from, generated from that screen's bindings, and the few that
work everywhere. One key means one thing on every screen (the key map below); the palette (ctrl+p) lists every
action too."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from cstui.screens.dialog import Dialog

EVERYWHERE = [
    ("?", "this help (the keys of the screen you are on)"), ("q", "quit"), ("escape", "back / close"),
    ("j / k", "down / up in any list, table, tree or scrolling pane"), ("home / end", "first / last row"),
    ("tab", "next pane"), ("ctrl+p", "command palette: every action of this screen by name"),
]
KEY_MAP = ("One key, one meaning: n / p next / previous item · l relabel · y / x your pass / fail · r rerun · "
           "g add to the regression set · / search · enter open · space select · c compare. Filters of the "
           "failures list: t tier, e evaluator, i intent, h channel, C category, L labelled, v all sessions, "
           "backspace clear.")
PRECISION = ("Precision beside an evaluator: the share of its failures a reviewer confirmed, held out from its "
             "tuning (docs/validation.md) and refined by this run's labels. Red below 0.90 — doubt those flags; "
             "— = not measured yet.")


def key_name(binding: Binding, key: str) -> str:
    if binding.key_display:
        return binding.key_display
    return {"question_mark": "?", "slash": "/", "right_square_bracket": "]", "left_square_bracket": "[",
            "escape": "esc", "enter": "enter"}.get(key, key)


def screen_keys(screen: Screen[Any]) -> list[tuple[str, str]]:
    """(keys, description) of the bindings of `screen` and of the widgets on it that say `KEYS_IN_HELP` (a tier
    panel's, the failures table's) that are active now, one row per action, in the order they are declared. Textual's generic
    movement keys are left to the "Everywhere" part."""
    rows: dict[str, list[str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        own = active.node is screen or getattr(active.node, "KEYS_IN_HELP", False)
        if (not own or not binding.description or binding.system
                or binding.action in ("quit", "help", "app.quit", "app.help") or "copy" in binding.action):
            continue
        rows.setdefault(binding.description, [])
        name = key_name(binding, key)
        if name not in rows[binding.description]:
            rows[binding.description].append(name)
    return [(" / ".join(keys), description) for description, keys in rows.items()]


def help_table(rows: list[tuple[str, str]]) -> Table:
    """Keys in a column of their own; a long description wraps inside its column, never under the keys."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0), expand=True)
    table.add_column(style="bold", no_wrap=True, min_width=10)
    table.add_column(ratio=1)
    for keys, description in rows:
        table.add_row(keys, description)
    return table


class HelpScreen(Dialog[None]):
    """The keys of `screen` (generated from its bindings), its notes, then the keys that work everywhere."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen .dialog-box { width: 96; max-width: 95%; height: auto; max-height: 90%; }
    HelpScreen .title { margin-top: 1; }
    """

    def __init__(self, screen: Screen[Any] | None = None) -> None:
        super().__init__()
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        screen = self.for_screen
        name = getattr(screen, "TITLE_FOR_HELP", None) or type(screen).__name__.replace("Screen", "") if screen else ""
        with VerticalScroll(classes=self.BOX, id="help-scroll"):
            if screen is not None:
                yield Static(Text(f"Keys on this screen — {name}", style="bold"))
                yield Static(help_table(screen_keys(screen)))
                notes = getattr(screen, "HELP", "")
                if notes:
                    yield Static(Text(notes, style="italic"), classes="title")
            yield Static(Text("Everywhere", style="bold"), classes="title")
            yield Static(help_table(EVERYWHERE))
            yield Static(Text(KEY_MAP, style="dim"), classes="title")
            yield Static(Text(PRECISION, style="dim"), classes="title")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()
