"""TypeAheadSelectionList: a SelectionList where typing the start of an option's value jumps to it.

With 19+ evaluators a reviewer knows the name ("pol…") long before they find it with arrows. Letters typed
within a second accumulate; space still toggles, arrows still move. Only chosen options show a tick: Textual
draws one on every option and tells them apart by colour alone, which a monochrome terminal (NO_COLOR, a
screen reader, a pasted capture) loses.
"""

from __future__ import annotations

import time
from typing import Any

from rich.segment import Segment
from textual import events
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList

PAUSE_S = 1.0  # after this long without a key, typing starts a new prefix


class TypeAheadSelectionList(SelectionList[str]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.typed = ""
        self._last_key = 0.0

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        index = self.scroll_offset.y + y
        if (len(segments) < 2 or segments[1].text != Checkbox.BUTTON_INNER or index >= self.option_count
                or self.get_option_at_index(index).value in self.selected):
            return strip
        segments[1] = Segment(" " * len(segments[1].text), segments[1].style, segments[1].control)
        return Strip(segments, strip.cell_length)

    def on_key(self, event: events.Key) -> None:
        char = event.character
        if not event.is_printable or not char or char == " ":
            return
        now = time.monotonic()
        self.typed = (self.typed if now - self._last_key < PAUSE_S else "") + char.lower()
        self._last_key = now
        event.stop()
        event.prevent_default()
        self.jump_to(self.typed)

    def jump_to(self, prefix: str) -> bool:
        """Highlight the first option whose value starts with `prefix` (else the first that contains it)."""
        values = [str(self.get_option_at_index(i).value).lower() for i in range(self.option_count)]
        for test in (str.startswith, str.__contains__):
            for index, value in enumerate(values):
                if test(value, prefix):
                    self.highlighted = index
                    return True
        self.app.bell()
        return False
