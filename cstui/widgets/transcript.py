"""A transcript's turns as the session and side-by-side screens draw them: role, text, tool calls inline,
evidence and search hits highlighted. Every string is rendered as plain `Text` after `inert`."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from cstui.textsafe import inert
from cstui.widgets.span_tree import pretty, short

ROLE_STYLES = {"customer": "bold cyan", "assistant": "bold green", "agent": "bold magenta", "system": "bold yellow",
               "tool": "bold blue"}


def turn_text(session: Any, index: int, highlight: str | tuple[int, int] | None = None, find: str = "") -> Text:
    """One turn: role, number, confidence, citations, draft decision, then its text (inert).

    `highlight`: (start, end) offsets into the turn's text — exact, whatever the text holds — or, for evidence
    recorded without offsets, the snippet to look for (its "…" ends trimmed)."""
    turn = session.turns[index]
    head = Text()
    head.append(f"#{index} ", style="dim")
    head.append(turn.role, style=ROLE_STYLES.get(turn.role, "bold"))
    if turn.confidence is not None:
        head.append(f"  confidence {turn.confidence:.2f}", style="dim")
    if turn.citations:
        head.append("  cites " + ", ".join(inert(c, keep_newlines=False) for c in turn.citations), style="dim")
    if turn.suppressed:
        head.append("  [suppressed: not shown to the customer]", style="yellow")
    draft = getattr(turn, "draft", None)
    if isinstance(draft, dict) and draft.get("decision"):
        head.append(f"  draft {inert(str(draft['decision']), keep_newlines=False)}", style="magenta")
    if isinstance(highlight, tuple) and 0 <= highlight[0] < highlight[1] <= len(turn.text):
        start, end = highlight  # each piece made inert on its own, so the offsets survive escapes being removed
        body = Text(inert(turn.text[:start], keep_newlines=True))
        body.append(inert(turn.text[start:end], keep_newlines=True), style="bold reverse red")
        body.append(inert(turn.text[end:], keep_newlines=True))
        return head + Text("\n") + body
    calls = [s for s in session.spans if s.turn_index == index and s.kind in ("tool", "customer_tool", "escalation")]
    text = turn.text
    if turn.role == "tool" and text.strip()[:1] in "[{":  # a result as raw JSON: readable, and folded when long
        text = fold(pretty(text))
    body = Text(inert(text, keep_newlines=True) or ("" if calls else "(empty)"))
    if isinstance(highlight, str) and highlight.strip("…").strip():
        clean = inert(highlight.strip("…").strip(), keep_newlines=True)
        start = body.plain.find(clean)
        if start >= 0:
            body.stylize("bold reverse red", start, start + len(clean))
    out = head + Text("\n") + body
    for span in calls:
        out.append_text(call_text(span, first=not body.plain))
    if find:
        for start in find_all(out.plain, find):
            out.stylize("bold reverse yellow", start, start + len(find))
    return out


def find_all(text: str, needle: str) -> list[int]:
    """Where `needle` occurs in `text`, ignoring case."""
    hay, needle = text.lower(), needle.lower()
    out, at = [], hay.find(needle)
    while needle and at >= 0:
        out.append(at)
        at = hay.find(needle, at + len(needle))
    return out


FOLD_LINES, FOLD_CHARS = 10, 800


def fold(text: str) -> str:
    """Long values cut where a reader stops (the span pane shows them whole)."""
    lines = text.splitlines()
    if len(lines) <= FOLD_LINES and len(text) <= FOLD_CHARS:
        return text
    kept = "\n".join(lines[:FOLD_LINES])[:FOLD_CHARS]
    return kept + f"\n… {len(text) - len(kept):,} more characters: select its span for the whole result"


def call_text(span: Any, *, first: bool = False) -> Text:
    """A tool call where it happened in the transcript: name, arguments, and how it ended."""
    attrs = span.attributes
    out = Text("" if first else "\n")
    who = "customer runs " if span.kind == "customer_tool" else ""
    out.append(f"⚙ {who}", style="bold blue")
    out.append(inert(span.name or "(unnamed tool)", keep_newlines=False), style="bold blue")
    if "arguments" in attrs:
        out.append(" " + inert(short(attrs["arguments"], 200), keep_newlines=False))
    status = span.status or ("no result recorded" if span.kind == "tool" else "")
    if status:
        out.append(f"  {status}", style="red" if span.status == "error" else "green" if span.status == "ok" else "dim")
    if span.duration_ms is not None:
        out.append(f" {span.duration_ms:,.0f} ms", style="dim")
    if span.status == "error" and attrs.get("result") is not None:
        out.append("\n  " + inert(short(attrs["result"], 300), keep_newlines=False), style="red")
    return out


class TurnView(Static):
    DEFAULT_CSS = """
    TurnView { padding: 0 1; margin-bottom: 1; }
    TurnView.evidence { border-left: thick $error; background: $error 15%; }
    """
