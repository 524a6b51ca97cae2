"""Make untrusted text (transcripts, span attributes, KB bodies, run names) inert for a terminal.

Markup is never parsed (callers build plain `Text`); here we remove what a terminal would act on:
ANSI CSI/OSC/DCS sequences (OSC 52 clipboard writes, OSC 8 links), other C0/C1 controls, and we make
bidi overrides and zero-width characters visible instead of letting them reorder or hide text.
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
# Bidi embeddings/overrides/isolates and zero-width characters: shown, not obeyed.
_INVISIBLE = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2028\u2029\u2060\ufeff]")

MAX_CHARS = 20_000


def inert(text: object, *, max_chars: int = MAX_CHARS, keep_newlines: bool = True) -> str:
    """Return `text` safe to print: no escape sequences, visible placeholders for invisible controls."""
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
