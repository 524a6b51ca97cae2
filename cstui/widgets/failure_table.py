"""FailureTable: a virtual table over the rows a filter kept that paints only the visible rows.

Textual's DataTable builds every row up front (~17 s for 100k rows); this widget asks the core's
`FailureRows` for lines on demand, a block of rows at a time, so a new filter or sort repaints in
milliseconds and a million kept rows are never Python values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cstui.textsafe import inert
from cstui.triage import COLUMN_TITLES, COLUMNS

if TYPE_CHECKING:
    from textual import events

    from cstui.triage import FailureRows

BLOCK = 256
WIDTHS = {"session_id": 16, "tier": 4, "intent": 20, "channel": 8, "failed_text": 0, "confidence": 5, "correct": 5,
          "frustration": 5, "n_turns": 5}


class FailureTable(ScrollView, can_focus=True):
    """Rows of failing sessions; Enter opens one, space selects for batch actions."""
    KEYS_IN_HELP = True  # its keys are listed in the help of the screen it is on

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "open", "Open session"),
        Binding("space", "toggle_select", "Select"),
        Binding("a", "select_all", "Select all shown", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "failure-table--header", "failure-table--cursor", "failure-table--selected", "failure-table--tier3",
    }
    DEFAULT_CSS = """
    FailureTable { height: 1fr; overflow-x: hidden; }
    FailureTable > .failure-table--header { text-style: bold; background: $panel; }
    FailureTable > .failure-table--cursor { background: $accent 50%; }
    FailureTable:focus > .failure-table--cursor { background: $accent; }
    FailureTable > .failure-table--selected { color: $warning; }
    FailureTable > .failure-table--tier3 { color: $error-lighten-1; }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    class Opened(Message):
        def __init__(self, session_id: str) -> None:
            super().__init__()
            self.session_id = session_id

    class Highlighted(Message):
        def __init__(self, session_id: str | None) -> None:
            super().__init__()
            self.session_id = session_id

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.shown: FailureRows | None = None
        self.selected: set[str] = set()
        self.sort_column: str | None = None
        self.sort_descending = False
        self._blocks: dict[int, list[tuple[Any, ...]]] = {}

    # ------------------------------------------------------------------ data
    def set_rows(self, shown: FailureRows, *, keep_cursor: bool = False) -> None:
        self.shown = shown
        self._blocks.clear()
        self._set_height(shown.height + 1)
        self.cursor = min(self.cursor, max(shown.height - 1, 0)) if keep_cursor else 0
        if not keep_cursor:
            self.scroll_to(y=0, animate=False)
        self.refresh()

    def _set_height(self, height: int) -> None:
        """A new row count. The screen needs a layout only when the scrollbar appears or goes (a layout of this
        screen is ~8 ms, on most keystrokes of a search); otherwise the scrollbar is resized in place."""
        size = Size(self.scrollable_content_region.width, height)
        if size == self.virtual_size:
            return
        view = self.scrollable_content_region.height
        if self.show_vertical_scrollbar and self.virtual_size.height > view and height > view:
            self.set_reactive(FailureTable.virtual_size, size)
            self.vertical_scrollbar.window_virtual_size = height
            self.scroll_y = self.validate_scroll_y(self.scroll_y)
        else:
            self.virtual_size = size

    @property
    def row_count(self) -> int:
        return 0 if self.shown is None else self.shown.height

    def row(self, index: int) -> tuple[Any, ...] | None:
        """The COLUMNS of one shown row."""
        if self.shown is None or not 0 <= index < self.shown.height:
            return None
        block = index // BLOCK
        if block not in self._blocks:
            self._blocks[block] = self.shown.rows(block * BLOCK, BLOCK)
        return self._blocks[block][index % BLOCK]

    @property
    def current_session_id(self) -> str | None:
        row = self.row(self.cursor)
        return None if row is None else row[0]

    def visible_session_ids(self) -> list[str]:
        return [] if self.shown is None else self.shown.session_ids()

    def shown_ids(self) -> Sequence[str]:
        """The shown sessions' ids without making each a Python string (a session screen steps through them)."""
        return [] if self.shown is None else self.shown.ids()

    # ------------------------------------------------------------------ rendering
    def _widths(self) -> dict[str, int]:
        fixed = sum(w for w in WIDTHS.values()) + 2 + len(WIDTHS)
        widths = dict(WIDTHS)
        widths["failed_text"] = max(12, self.scrollable_content_region.width - fixed)
        return widths

    def _cells(self, values: dict[str, Any], *, header: bool = False) -> str:
        """One line of fixed-width cells; a single plain string (one segment) keeps painting cheap."""
        widths = self._widths()
        parts = []
        for col in COLUMNS:
            value = values.get(col)
            if col in ("confidence", "frustration") and not header:
                cell = "—" if value is None else f"{value:.2f}"
            elif col == "correct" and not header:
                cell = "—" if value is None else "yes" if value else "no"
            elif value is None:
                cell = "—"
            else:
                cell = inert(str(value), keep_newlines=False)
            width = widths[col]
            if len(cell) > width:
                cell = cell[: max(width - 1, 0)] + "…"
            justify = cell.rjust if col in ("tier", "confidence", "frustration", "n_turns") else cell.ljust
            parts.append(justify(width))
        return " ".join(parts) + " "

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width  # beside the scrollbar, when there is one
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            header = "  " + self._cells(COLUMN_TITLES, header=True)
            style = self.get_component_rich_style("failure-table--header")
            return Strip([Segment(header, style)], cell_len(header)).crop_extend(0, width, style)
        index = scroll_y + y - 1
        row = self.row(index)
        base = self.rich_style
        if row is None:
            return Strip.blank(width, base)
        values = dict(zip(COLUMNS, row, strict=True))
        mark = "● " if row[0] in self.selected else "  "
        line = mark + self._cells(values)
        style = base
        if values.get("tier") == 3:
            style += self.get_component_rich_style("failure-table--tier3")
        if row[0] in self.selected:
            style += self.get_component_rich_style("failure-table--selected")
        if index == self.cursor:
            style += self.get_component_rich_style("failure-table--cursor")
        return Strip([Segment(line, style)], cell_len(line)).crop_extend(scroll_x, scroll_x + width, style)

    # ------------------------------------------------------------------ cursor
    def watch_cursor(self, old: int, new: int) -> None:
        height = max(self.scrollable_content_region.height - 1, 1)  # rows below the header
        top = self.scroll_offset.y
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(self.current_session_id))

    def action_cursor(self, delta: int) -> None:
        if self.row_count:
            self.cursor = max(0, min(self.row_count - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.scrollable_content_region.height - 2, 1))

    def action_jump(self, where: int) -> None:
        if self.row_count:
            self.cursor = self.row_count - 1 if where < 0 else 0

    def action_open(self) -> None:
        if (sid := self.current_session_id) is not None:
            self.post_message(self.Opened(sid))

    def action_toggle_select(self) -> None:
        if (sid := self.current_session_id) is not None:
            self.selected ^= {sid}
            self.action_cursor(1)
            self.refresh()

    def action_select_all(self) -> None:
        shown = set(self.visible_session_ids())
        self.selected = set() if shown <= self.selected else self.selected | shown
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        if event.y == 0 or not self.row_count:
            return
        index = self.scroll_offset.y + event.y - 1
        if index < self.row_count:
            self.cursor = index
            if event.chain >= 2:
                self.action_open()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count + 1)
