"""Full-text search over what was said and what the tools returned (SQLite FTS5, table `search`).

One row per turn (`place` = "turn N") and per tool or escalation span with a name or result (`place` =
"span ID"); rows are written in the import transaction and deleted with their run, so search never lags.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cstui.store.core import StoreBase

SEARCH_SHIFT = 20  # items per session in the rowid: 1,048,576 turns and spans
SEARCHED_SPAN_KINDS = ("tool", "escalation", "policy_lookup", "guardrail")


def search_items(turn_texts: Iterable[str | None], spans: Iterable[Any]) -> list[tuple[str, str]]:
    """(text, place) for one session: its turns, then its tool-like spans' name and result (native dicts)."""
    items = [(text, f"turn {i}") for i, text in enumerate(turn_texts) if isinstance(text, str) and text.strip()]
    for span in spans:
        if not isinstance(span, dict) or span.get("kind") not in SEARCHED_SPAN_KINDS:
            continue
        attrs = span.get("attributes") if isinstance(span.get("attributes"), dict) else {}
        result = attrs.get("result")
        words = [span.get("name"), result if isinstance(result, str) else None if result is None else str(result)]
        text = " ".join(str(w) for w in words if w)
        if text.strip():
            items.append((text, f"span {span.get('span_id')}"))
    return items


def search_rows(sid: int, items: Iterable[tuple[str, str]]) -> list[tuple[int, str, str]]:
    """The FTS rows of one session: rowid = sid << SEARCH_SHIFT | item."""
    return [((sid << SEARCH_SHIFT) + k, text, place) for k, (text, place) in enumerate(items)]


def fts_phrase(text: str) -> str:
    """What a reviewer typed, as one FTS5 phrase (quotes doubled): no query syntax to learn or to break."""
    return '"' + text.replace('"', '""') + '"'


class SearchMixin(StoreBase):
    """Full-text search (FTS5) over turns and tool results."""

    def search(self, run: str, text: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Hits for a phrase in a run: session, where (turn N / span ID) and a snippet with the match in [ ]."""
        if not text.strip():
            return []
        return self._dicts(
            "SELECT s.session_id, f.place, snippet(search, 0, '[', ']', '…', 16) AS snippet"
            " FROM search f JOIN sessions s ON s.id = f.rowid >> ? WHERE search MATCH ? AND s.run = ?"
            " ORDER BY f.rank LIMIT ?", (SEARCH_SHIFT, fts_phrase(text.strip()), run, limit))

    def search_session_ids(self, run: str, text: str, *, limit: int = 100_000) -> list[str]:
        """The sessions of a run whose turns or tool results contain the phrase."""
        if len(text.strip()) < 2:
            return []
        return [sid for (sid,) in self.conn.execute(
            "SELECT DISTINCT s.session_id FROM search f JOIN sessions s ON s.id = f.rowid >> ?"
            " WHERE search MATCH ? AND s.run = ? LIMIT ?", (SEARCH_SHIFT, fts_phrase(text.strip()), run, limit))]
