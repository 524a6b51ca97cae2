"""SpanTree: a session's spans as a tree (kind, name, status, timing, the arguments a reviewer looks for);
highlighting a span posts `SpanTree.Selected` with it, for a detail pane to show (`span_detail`).

Every string here came from a trace: rendered as plain `Text` after `inert`, never parsed as markup.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import Tree

from cstui.models import Span
from cstui.textsafe import inert

ATTR_CHARS = 90


def short(value: Any, limit: int = ATTR_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = inert(text, keep_newlines=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def span_label(span: Span) -> Text:
    """kind, name, status, duration and the attributes a reviewer looks for first."""
    attrs = span.attributes
    label = Text()
    label.append(span.kind, style="bold")
    if span.name:
        label.append(f" {inert(span.name, keep_newlines=False)}")
    if span.status:
        label.append(f" [{inert(span.status, keep_newlines=False)}]", style="red" if span.status == "error" else "green")
    if span.duration_ms is not None:
        label.append(f" {span.duration_ms:.0f} ms", style="dim")
    if span.turn_index is not None:
        label.append(f" · turn {span.turn_index}", style="dim")
    if attrs.get("synthetic") is True:
        label.append(" (read from the message history; no recorded execution)", style="dim italic")
    if attrs.get("orphan") is True:
        label.append(" (orphan result: answers no call)", style="yellow italic")
    details: list[str] = []
    if span.kind == "retrieval" and isinstance(attrs.get("documents"), list):
        docs = [d for d in attrs["documents"] if isinstance(d, dict)]
        details.append("docs " + ", ".join(f"{d.get('id')} rev {d.get('revision', '?')}" for d in docs))
    if span.kind == "intent" and "label" in attrs:
        details.append(f"{attrs.get('label')} ({attrs.get('confidence')})")
    if span.kind == "tool":
        if "arguments" in attrs:
            details.append(f"args {short(attrs['arguments'], 60)}")
        if "result" in attrs:
            details.append(f"→ {short(attrs['result'], 60)}")
    if span.kind == "llm":
        details.append(" ".join(f"{k}={attrs[k]}" for k in ("model", "input_tokens", "output_tokens", "cost_usd")
                                if k in attrs))
    if span.kind in ("escalation", "guardrail", "policy_lookup") and attrs:
        details.append(short(attrs, 70))
    if attrs.get("sub_agent") is True and isinstance(attrs.get("conversation"), list):
        details.append(f"its own conversation: {len(attrs['conversation'])} turns (not the customer's)")
    if span.kind == "customer_tool":
        details.append("run by the customer on their device, not by the agent")
    if details:
        label.append("  " + short(" · ".join(details), 120), style="italic")
    return label


def span_detail(span: Span) -> Text:
    """Everything a reviewer reads about one span: what ran and how it ended, then its arguments and result in full.
    A failed call shows its error first, where a small pane still has room for it."""
    text = Text()
    text.append(f"{span.kind} ", style="bold")
    text.append(inert(span.name or "(unnamed)"), style="bold")
    if span.status:
        text.append(f"  [{inert(span.status)}]", style="bold red" if span.status == "error" else "green")
    attrs = dict(span.attributes)
    failed = span.status == "error"
    if failed:  # the error itself, or the result a failed call returned, before anything else
        key = "error" if "error" in attrs else "result" if "result" in attrs else None
        if key is not None:
            text.append("\nerror: ", style="bold red")
            text.append(inert(pretty(attrs.pop(key)), keep_newlines=True) + "\n", style="red")
    facts = [f"id {span.span_id}"]
    if span.turn_index is not None:
        facts.append(f"turn {span.turn_index}")
    if span.duration_ms is not None:
        facts.append(f"{span.duration_ms:,.0f} ms")
    if span.start:
        facts.append(f"started {span.start}")
    text.append("\n" + inert(" · ".join(facts)) + "\n", style="dim")
    conversation = attrs.pop("conversation", None) if attrs.get("sub_agent") is True else None
    if isinstance(conversation, list):  # a sub-agent's exchange, read like a transcript
        text.append("\nsub-agent conversation\n", style="bold")
        for turn in conversation:
            if isinstance(turn, dict):
                text.append(f"{inert(str(turn.get('role')), keep_newlines=False)}: ", style="bold dim")
                text.append(inert(str(turn.get("text") or ""), keep_newlines=True) + "\n")
    for key, title in (("arguments", "arguments"), ("result", "result"), ("error", "error"), ("documents", "documents")):
        if key in attrs:
            value = attrs.pop(key)
            text.append(f"\n{title}\n", style="bold red" if key == "error" else "bold")
            text.append(inert(pretty(value), keep_newlines=True) + "\n")
    if attrs:
        text.append("\nother attributes\n", style="bold dim")
        text.append(inert(pretty(attrs), keep_newlines=True) + "\n", style="dim")
    return text


def pretty(value: Any) -> str:
    """JSON indented for reading; a string that holds JSON is unpacked first (tool results often are)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in "[{":
            try:
                value = json.loads(stripped)
            except ValueError:
                return value
        else:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


class SpanTree(Tree[str]):
    """The span hierarchy of one session; `show` fills it, `select_span` moves to one span."""

    class Selected(Message):
        def __init__(self, span: Span) -> None:
            super().__init__()
            self.span = span

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(Text("spans"), id=id)
        self.spans: dict[str, Span] = {}
        self.nodes: dict[str, Any] = {}

    def show(self, spans: list[Span]) -> None:
        self.clear()
        self.root.set_label(Text(f"{len(spans)} spans"))
        self.spans = {span.span_id: span for span in spans}
        children: dict[str | None, list[Span]] = {}
        for span in spans:
            children.setdefault(span.parent_id, []).append(span)
        self.nodes = {}
        stack = [(self.root, span) for span in reversed(children.get(None, []))]
        while stack:  # iterative: a 2,000-span session must not hit the recursion limit
            parent, span = stack.pop()
            kids = children.get(span.span_id, [])
            node = parent.add(span_label(span), data=span.span_id, expand=True, allow_expand=bool(kids))
            self.nodes[span.span_id] = node
            stack.extend((node, kid) for kid in reversed(kids))
        self.root.expand()

    def select_span(self, span_id: str) -> bool:
        node = self.nodes.get(span_id)
        if node is None:
            return False
        self.select_node(node)
        self.scroll_to_node(node)
        return True

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        span = self.spans.get(event.node.data) if event.node.data is not None else None
        if span is not None:
            self.post_message(self.Selected(span))
