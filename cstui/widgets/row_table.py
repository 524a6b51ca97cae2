"""RowTable: a DataTable whose home / end move the row cursor to the first / last row (Textual's move to the first
or last column, which a row cursor does not have: on the runs screen, home then b marked the wrong run)."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable


class RowTable(DataTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]
