"""The last guard between a string from a file and the terminal: every line the TUI draws passes through it.

Screens already show untrusted text through `cstui.textsafe.inert` (escape sequences removed, invisible characters
shown as <U+XXXX>). This filter makes that true by construction rather than by each call site remembering: any
control, C1, bidi, tag or zero-width character still in a rendered segment is dropped. They all take no cell, so the
layout is unchanged.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from cstui.textsafe import strip_terminal_controls


class InertFilter(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        out = segments
        for i, segment in enumerate(segments):
            text = segment.text
            cleaned = strip_terminal_controls(text)
            if cleaned is not text:
                if out is segments:
                    out = list(segments)
                out[i] = Segment(cleaned, segment.style, segment.control)
        return out
