"""Dialog: the one base of every modal box (pick, ask, relabel, rerun, help, KB, judge transcript).

Its look lives in the app stylesheet, `cstui.tcss`: centred over the current screen, a rounded accent border
on the surface colour. A dialog wraps its content in a container with the `dialog-box` class and says only
its own size there.
"""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    BOX = "dialog-box"  # the class of the container that holds the dialog's content
