"""Full-text search over what was said and what the tools returned (SQLite FTS5, table `search`).

One row per turn (`place` = "turn N") and per tool or escalation span with a name or result (`place` =
"span ID"). A run is indexed when it is first searched, and again whenever its sessions changed (an append or
a replace), so imports do not pay for it and a search never reads a stale index. On a file opened through a
read-only connection the index lives in a scratch database beside the store (schema `scratch`), never in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from cstui.store.core import StoreBase

SEARCH_SHIFT = 20  # items per session in the rowid: 1,048,576 turns and spans
SEARCHED_SPAN_KINDS = ("tool", "escalation", "policy_lookup", "guardrail")


# The index's format, kept with each indexed run (search_runs.run is "RUN#FORMAT"): a run indexed in another format
# is indexed again on its next search. 2: system turns are indexed as "system N" and searched only when asked for.
INDEX_FORMAT = 2
SYSTEM_PREFIX = "system:"  # a query starting so also searches the system prompts


def index_key(run: str) -> str:
    return f"{run}#{INDEX_FORMAT}"


def search_items(turns: Iterable[tuple[str | None, str | None]], spans: Iterable[Any]) -> list[tuple[str, str]]:
    """(text, place) for one session: its turns ((role, text); a system turn's place is "system N"), then its
    tool-like spans' name and result (native dicts)."""
    items = [(text, f"{'system' if role == 'system' else 'turn'} {i}") for i, (role, text) in enumerate(turns)
             if isinstance(text, str) and text.strip()]
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


def _query(text: str) -> tuple[str, str]:
    """(the phrase, the extra SQL condition): system prompts are left out unless the query starts "system:"."""
    text = text.strip()
    if text.lower().startswith(SYSTEM_PREFIX):
        return text[len(SYSTEM_PREFIX):].strip(), ""
    return text, " AND f.place NOT LIKE 'system %'"


def fts_phrase(text: str) -> str:
    """What a reviewer typed, as one FTS5 phrase (quotes doubled): no query syntax to learn or to break."""
    return '"' + text.replace('"', '""') + '"'


def index_in_subprocess(store: Any, run: str) -> int:
    """Build a run's search index in a process of its own and wait for it. Indexing parses every document (about
    4 s per 100k sessions); in a thread of the TUI it would hold the interpreter lock between keystrokes, and
    typing would lag seconds a key. (A plain child interpreter: multiprocessing's spawn cannot start from a
    Textual app whose standard streams are replaced.) The child opens the file the way `store` did."""
    import subprocess
    import sys

    scratch = str(store.search_scratch()) if store.read_only_connection else ""
    code = ("import sys; from cstui.store.indexer import index_run; "
            "print(index_run(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]))")
    done = subprocess.run([sys.executable, "-c", code, str(store.path), store.opened.uri, scratch, run],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"indexing exited with {done.returncode}")
    return int(done.stdout.strip() or 0)


class SearchMixin(StoreBase):
    """Full-text search (FTS5) over turns and tool results."""

    @property
    def read_only_connection(self) -> bool:
        return "mode=ro" in self.opened.uri

    def search_scratch(self) -> Path:
        """The scratch database that holds search indexes for a read-only connection (made on first use)."""
        if self.opened.search_scratch is None:
            import tempfile

            self.opened.search_scratch = Path(tempfile.mkdtemp(prefix="cstui-search-")) / "search.db"
            self.opened.own_search_scratch = True
        return self.opened.search_scratch

    def _search_schema(self) -> str:
        """Where the index is: `main`, or on a read-only connection the attached scratch database."""
        if not self.read_only_connection:
            return "main"
        if not self.conn.execute("SELECT 1 FROM pragma_database_list WHERE name = 'scratch'").fetchone():
            self.conn.execute("ATTACH ? AS scratch", (str(self.search_scratch()),))
            self.conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS scratch.search USING fts5(text, place UNINDEXED,"
                              " tokenize = 'unicode61')")
            self.conn.execute("CREATE TABLE IF NOT EXISTS scratch.search_runs (run TEXT PRIMARY KEY, sid_lo INTEGER,"
                              " sid_hi INTEGER, n INTEGER NOT NULL)")
        return "scratch"

    def search_index_current(self, run: str) -> bool:
        schema = self._search_schema()
        stamp = self.conn.execute("SELECT min(id), max(id), count(*) FROM sessions WHERE run = ?", (run,)).fetchone()
        indexed = self.conn.execute(f"SELECT sid_lo, sid_hi, n FROM {schema}.search_runs WHERE run = ?",
                                    (index_key(run),)).fetchone()
        return indexed is not None and tuple(indexed) == tuple(stamp)

    def index_for_search(self, run: str, progress: Callable[[int, int], None] | None = None) -> int:
        """(Re)build a run's search rows; returns how many were written. The index is derived data: a file opened
        for reading gets it too (in the scratch database when the connection is read-only)."""
        schema = self._search_schema()
        written = 0
        with self.transaction(derived=True) as conn:
            lo, hi, n = conn.execute("SELECT min(id), max(id), count(*) FROM sessions WHERE run = ?", (run,)).fetchone()
            if lo is not None:  # rows of this run's sessions only: other runs' sids may sit between an append's
                conn.execute(f"DELETE FROM {schema}.search WHERE rowid >= ? AND rowid < ? AND (rowid >> ?) IN"
                             " (SELECT id FROM sessions WHERE run = ?)",
                             (lo << SEARCH_SHIFT, (hi + 1) << SEARCH_SHIFT, SEARCH_SHIFT, run))
            sids = [sid for (sid,) in conn.execute("SELECT id FROM sessions WHERE run = ? ORDER BY id", (run,))]
            for start in range(0, len(sids), 2000):
                chunk = sids[start:start + 2000]
                marks = ",".join("?" * len(chunk))
                spans: dict[int, list[Any]] = {}
                for sid, doc in conn.execute(f"SELECT sid, doc FROM spans WHERE sid IN ({marks}) AND kind IN"
                                             f" ({','.join('?' * len(SEARCHED_SPAN_KINDS))})",
                                             (*chunk, *SEARCHED_SPAN_KINDS)):
                    spans.setdefault(sid, []).append(orjson.loads(doc))
                rows = []
                for sid, doc in conn.execute(f"SELECT id, doc FROM sessions WHERE id IN ({marks})", chunk):
                    turns = orjson.loads(doc).get("turns") or []
                    pairs = [(t.get("role"), t.get("text")) if isinstance(t, dict) else (None, None) for t in turns]
                    rows.extend(search_rows(sid, search_items(pairs, spans.get(sid, []))))
                conn.executemany(f"INSERT INTO {schema}.search (rowid, text, place) VALUES (?, ?, ?)", rows)
                written += len(rows)
                if progress:
                    progress(min(start + len(chunk), len(sids)), len(sids))
            conn.execute(f"DELETE FROM {schema}.search_runs WHERE run = ?", (run,))  # an index of the old format
            conn.execute(f"INSERT OR REPLACE INTO {schema}.search_runs (run, sid_lo, sid_hi, n) VALUES (?, ?, ?, ?)",
                         (index_key(run), lo, hi, n))
        return written

    def _ready_for_search(self, run: str) -> str:
        if not self.search_index_current(run):
            self.index_for_search(run)
        return self._search_schema()

    def search(self, run: str, text: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Hits for a phrase in a run: session, where (turn N / span ID) and a snippet with the match in [ ]. What
        the customer, the agent and the tools said; the system prompts too when the query starts "system:" (one
        policy phrase would otherwise match every session)."""
        phrase, where = _query(text)
        if not phrase:
            return []
        schema = self._ready_for_search(run)
        return self._dicts(
            f"SELECT s.session_id, f.place, snippet(search, 0, '[', ']', '…', 16) AS snippet"
            f" FROM {schema}.search f JOIN sessions s ON s.id = f.rowid >> ? WHERE f.search MATCH ? AND s.run = ?"
            f"{where} ORDER BY f.rank LIMIT ?", (SEARCH_SHIFT, fts_phrase(phrase), run, limit))

    def search_session_ids(self, run: str, text: str, *, limit: int = 100_000) -> list[str]:
        """The sessions of a run whose turns or tool results contain the phrase (system prompts: "system:")."""
        phrase, where = _query(text)
        if len(phrase) < 2:
            return []
        schema = self._ready_for_search(run)
        return [sid for (sid,) in self.conn.execute(
            f"SELECT DISTINCT s.session_id FROM {schema}.search f JOIN sessions s ON s.id = f.rowid >> ?"
            f" WHERE f.search MATCH ? AND s.run = ?{where} LIMIT ?", (SEARCH_SHIFT, fts_phrase(phrase), run, limit))]
