"""Dialog: the one base of every modal box (pick, ask, relabel, rerun, help, KB, judge transcript).

Its look lives in the app stylesheet, `cstui.tcss`: centred over the current screen, a rounded accent border
on the surface colour. A dialog wraps its content in a container with the `dialog-box` class and says only
its own size there.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """j / k move in whatever list or pane of the dialog has focus, as everywhere else (a modal screen does not
    see the app's own j / k). A dialog closes on escape (and q where nothing is typed), never on j or k."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "app.cursor('down')", "Down", show=False),
        Binding("k", "app.cursor('up')", "Up", show=False),
    ]
    BOX = "dialog-box"  # the class of the container that holds the dialog's content
