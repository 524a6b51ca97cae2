"""Make untrusted text (transcripts, span attributes, KB bodies, run names) inert for a terminal.

Markup is never parsed (callers build plain `Text`); here we remove what a terminal would act on:
ANSI CSI/OSC/DCS sequences (OSC 52 clipboard writes, OSC 8 links), other C0/C1 controls, and we make
bidi controls, tag characters and zero-width characters visible instead of letting them reorder or hide text.

Three layers use it, so that no call site has to remember: `inert` where text is prepared for display;
`SafeStream`, which the CLI puts around stdout and stderr so that nothing printed can carry a control
sequence (cstui's own progress lines go through `control`); and `json_safe`, which escapes the same
characters inside JSON strings without changing the data (`\u0085` rather than a raw C1 byte).
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"""
    \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?      # OSC ... BEL or ST (also unterminated)
  | \x1b[P^_X][^\x1b]*(?:\x1b\\)?           # DCS / PM / APC / SOS strings
  | \x1b\[[0-?]*[ -/]*[@-~]                  # CSI sequences
  | \x1b[@-Z\\-_]                            # other two-byte escapes
  | \x9b[0-?]*[ -/]*[@-~]                    # 8-bit CSI
  | \x9d[^\x07\x9c]*(?:\x07|\x9c)?           # 8-bit OSC
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi marks, embeddings, overrides and isolates (U+061C, U+200E/F, U+202A-E, U+2066-9), zero-width and invisible
# operators, interlinear annotations, and tag characters (U+E0000-E007F, which can spell hidden text): shown, not
# obeyed.
_INVISIBLE_CLASS = (r"\u061c\u115f\u1160\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f"
                    r"\u3164\ufeff\ufff9-\ufffb\U000e0000-\U000e007f")
_INVISIBLE = re.compile(f"[{_INVISIBLE_CLASS}]")
# Anything a terminal could act on or that hides text: the quick test before the work.
_SUSPECT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE_CLASS}]")

MAX_CHARS = 20_000


def inert(text: object, *, max_chars: int = MAX_CHARS, keep_newlines: bool = False) -> str:
    """Return `text` safe to print: no escape sequences, visible placeholders for invisible controls, and (unless
    `keep_newlines`, for a transcript's body) no line breaks, so a name cannot forge a row of a table."""
    s = text if isinstance(text, str) else str(text)
    s = s.encode("utf-8", "replace").decode("utf-8", "replace")  # lone surrogates from bad input
    s = _ESCAPES.sub("", s)
    s = _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", s)
    s = _CONTROLS.sub("\ufffd", s)
    if not keep_newlines:
        s = s.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    if len(s) > max_chars:
        s = s[:max_chars] + f"… [{len(s) - max_chars:,} more characters]"
    return s


def _visible(m: re.Match[str]) -> str:
    return f"<U+{ord(m.group()):04X}>"


def clean_output(text: str) -> str:
    """What `SafeStream` writes: escape sequences removed, controls other than newline and tab replaced,
    invisible characters shown. Lines and length are kept (a table's rows stay rows)."""
    if not _SUSPECT.search(text):
        return text
    s = _ESCAPES.sub("", text)
    s = _INVISIBLE.sub(_visible, s)
    return _CONTROLS.sub("\ufffd", s)


def strip_terminal_controls(text: str) -> str:
    """`text` without any control, C1, bidi, tag or zero-width character (the same object when it has none): for
    a renderer that must keep every cell where it is (those characters take none)."""
    if not _SUSPECT.search(text):
        return text
    return _SUSPECT.sub("", text)


def json_safe(text: str) -> str:
    """A JSON document with every control, C1, bidi and tag character inside its strings written as a \\u escape:
    the same data for a parser, nothing a terminal acts on. (orjson already escapes C0; JSON's syntax has no
    place for these characters outside strings.)"""
    if not _SUSPECT.search(text):
        return text
    return _SUSPECT.sub(_json_escape, text)


def json_safe_bytes(data: bytes) -> bytes:
    """`json_safe` for a UTF-8 encoded JSON document (orjson's output)."""
    text = data.decode("utf-8")
    return data if not _SUSPECT.search(text) else json_safe(text).encode("utf-8")


def _json_escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


class SafeStream:
    """A text stream that cleans everything written to it (`clean_output`); `control` writes cstui's own
    terminal controls (progress lines) unchanged. The CLI wraps stdout and stderr in it for every command."""

    def __init__(self, inner: object):
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(clean_output(text))  # type: ignore[attr-defined]
        return len(text)

    def control(self, text: str) -> None:
        self._inner.write(text)  # type: ignore[attr-defined]

    def writelines(self, lines: object) -> None:
        for line in lines:  # type: ignore[attr-defined]
            self.write(line)

    def __getattr__(self, name: str) -> object:  # flush, isatty, fileno, encoding, buffer ...
        return getattr(self._inner, name)


def control(stream: object, text: str) -> None:
    """Write a terminal control of cstui's own (a progress line's `\\r`) past a `SafeStream`."""
    writer = getattr(stream, "control", None)
    (writer or stream.write)(text)  # type: ignore[attr-defined]
