"""Runs and imports: the run table, the import transaction and its batched writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from cstui.store.chunks import SessionPartWriter
from cstui.store.core import RunExists, StoreBase, StoreError, UnknownRun, _b, now_iso
from cstui.store.search import SEARCH_SHIFT, index_key

BATCH = 2000  # sessions per executemany during an import


@dataclass
class SessionRow:
    """The indexed columns of one session, as the import writes them."""

    session_id: str
    tier: int | None
    intent: str | None
    channel: str | None
    segment: str | None
    category: str | None
    started_at: str | None
    n_turns: int
    confidence: float | None
    correct: bool | None
    resolved: bool | None
    escalated: bool
    escalation_turn: int | None
    doc: bytes
    spans: list[tuple[str, str | None, str, str | None, int | None, str | None, bytes]]
    draft: tuple[Any, ...] | None = None


class SeenIds:
    """Which session ids a run already has, in fixed memory: a two-hash Bloom filter of 2**27 bits (16 MB) says
    "new" for certain, and its rare "maybe" (about 1 in 5,000 ids at 1M sessions) is settled by the batch not
    yet written and the run's unique index. A set of the ids themselves cost ~90 MB per million sessions."""

    BITS = 27

    def __init__(self, conn: sqlite3.Connection, run: str) -> None:
        self.conn, self.run = conn, run
        self.filter = bytearray(1 << (self.BITS - 3))
        self.pending: set[str] = set()
        for (session_id,) in conn.execute("SELECT session_id FROM sessions WHERE run = ?", (run,)):
            self._mark(session_id)

    def _positions(self, session_id: str) -> tuple[int, int]:
        h = hash(session_id) & 0xFFFF_FFFF_FFFF_FFFF
        mask = (1 << self.BITS) - 1
        return h & mask, (h >> self.BITS) & mask

    def _mark(self, session_id: str) -> None:
        for pos in self._positions(session_id):
            self.filter[pos >> 3] |= 1 << (pos & 7)

    def add(self, session_id: str) -> bool:
        """Record the id; False when the run (or the batch being written) already has it."""
        if all(self.filter[pos >> 3] >> (pos & 7) & 1 for pos in self._positions(session_id)) and (
                session_id in self.pending or self.conn.execute(
                    "SELECT 1 FROM sessions WHERE run = ? AND session_id = ?", (self.run, session_id)).fetchone()):
            return False
        self._mark(session_id)
        self.pending.add(session_id)
        return True


class RunWriter:
    """Batched inserts of sessions and spans inside an open import transaction."""

    def __init__(self, conn: sqlite3.Connection, run: str, parts: SessionPartWriter | None = None):
        self.conn = conn
        self.run = run
        self.parts = parts  # a new run's session columns, snapshotted as they are written
        self.next_sid = (conn.execute("SELECT max(id) FROM sessions").fetchone()[0] or 0) + 1
        self.existing = SeenIds(conn, run)
        self.sessions: list[tuple[Any, ...]] = []
        self.spans: list[tuple[Any, ...]] = []
        self.drafts: list[tuple[Any, ...]] = []
        self.n_sessions = 0
        self.n_spans = 0

    def drop_staged(self, row_ids: list[int]) -> None:
        """Delete the staged spans these sessions were assembled from, in the transaction importing them (by row:
        spans of the same trace staged after they were read stay, for the session's continuation)."""
        self.conn.executemany("DELETE FROM otlp_staging WHERE id = ?", [(i,) for i in row_ids])

    def add(self, row: SessionRow) -> None:
        if not self.existing.add(row.session_id):
            raise StoreError(f"duplicate session_id {row.session_id!r} in run {self.run!r}")
        sid = self.next_sid
        self.next_sid += 1
        self.sessions.append((
            sid, self.run, row.session_id, row.tier, row.intent, row.channel, row.segment, row.category,
            row.started_at, row.n_turns, len(row.spans), row.confidence, _b(row.correct), _b(row.resolved),
            int(row.escalated), row.escalation_turn, row.doc,
        ))
        self.spans.extend((sid, *span) for span in row.spans)
        if row.draft is not None:
            self.drafts.append((sid, self.run, *row.draft, int(row.escalated)))
        self.n_sessions += 1
        self.n_spans += len(row.spans)
        if len(self.sessions) >= BATCH:
            self.flush()

    def record_import(self, source_format: str, counts: dict[str, int]) -> None:
        """The run's source format and import counts (added to what earlier imports of an appended run brought)."""
        row = self.conn.execute("SELECT import_stats FROM runs WHERE name = ?", (self.run,)).fetchone()
        old = orjson.loads(row[0]) if row and row[0] else {}
        merged = {k: old.get(k, 0) + v for k, v in counts.items()}
        self.conn.execute("UPDATE runs SET source_format = ?, import_stats = ? WHERE name = ?",
                          (source_format, orjson.dumps(merged).decode(), self.run))

    def add_kb(self, articles: Iterable[tuple[Any, ...]]) -> int:
        rows = [(self.run, *a) for a in articles]
        self.conn.executemany(
            "INSERT OR REPLACE INTO kb (run, id, revision, status, title, body, updated_at, doc) VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )
        return len(rows)

    def flush(self) -> None:
        if self.sessions:
            self.conn.executemany(
                "INSERT INTO sessions (id, run, session_id, tier, intent, channel, segment, category, started_at,"
                " n_turns, n_spans, confidence, correct, resolved, escalated, escalation_turn, doc)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                self.sessions,
            )
            if self.parts is not None:
                self.parts.add(self.sessions)
            self.sessions.clear()
            self.existing.pending.clear()
        if self.spans:
            self.conn.executemany(
                "INSERT INTO spans (sid, span_id, parent_id, kind, name, turn_index, status, doc)"
                " VALUES (?,?,?,?,?,?,?,?)",
                self.spans,
            )
            self.spans.clear()
        if self.drafts:
            self.conn.executemany("INSERT INTO drafts VALUES (?,?,?,?,?,?,?,?,?,?)", self.drafts)
            self.drafts.clear()



class RunsMixin(StoreBase):
    """Runs and imports: the run table, the import transaction and its batched writer."""

    def runs(self) -> list[dict[str, Any]]:
        runs = self._dicts(
            "SELECT name, n_sessions, created_at, source_format, system_version, system, metadata, import_stats"
            " FROM runs ORDER BY created_at, name"
        )
        for run in runs:
            run["import_stats"] = orjson.loads(run["import_stats"]) if run["import_stats"] else {}
        return runs

    def run(self, name: str) -> dict[str, Any]:
        for run in self.runs():
            if run["name"] == name:
                return run
        known = ", ".join(r["name"] for r in self.runs()) or "none"
        raise UnknownRun(f"no run named {name!r} in {self.path} (runs: {known})")

    def has_run(self, name: str) -> bool:
        return self._one("SELECT 1 FROM runs WHERE name = ?", (name,)) is not None

    def _delete_run(self, conn: sqlite3.Connection, name: str) -> None:
        conn.execute("DELETE FROM spans WHERE sid IN (SELECT id FROM sessions WHERE run = ?)", (name,))
        conn.execute("DELETE FROM verdicts WHERE vset IN (SELECT id FROM verdict_sets WHERE run = ?)", (name,))
        conn.execute("DELETE FROM verdict_sets WHERE run = ?", (name,))
        conn.execute("DELETE FROM drafts WHERE run = ?", (name,))
        conn.execute("DELETE FROM verdict_masks WHERE run = ?", (name,))
        conn.execute("DELETE FROM evaluator_bits WHERE run = ?", (name,))
        conn.execute("DELETE FROM frame_cache WHERE run = ?", (name,))
        for lo, hi in conn.execute("SELECT min(id), max(id) FROM sessions WHERE run = ?", (name,)).fetchall():
            if lo is not None:  # a run's sids are one range (imports are sequential), rowids pack them
                conn.execute("DELETE FROM search WHERE rowid >= ? AND rowid < ? AND (rowid >> ?) IN"
                             " (SELECT id FROM sessions WHERE run = ?)",
                             (lo << SEARCH_SHIFT, (hi + 1) << SEARCH_SHIFT, SEARCH_SHIFT, name))
        conn.execute("DELETE FROM search_runs WHERE run = ? OR run = ?", (name, index_key(name)))
        conn.execute("DELETE FROM sessions WHERE run = ?", (name,))
        conn.execute("DELETE FROM kb WHERE run = ?", (name,))
        conn.execute("DELETE FROM runs WHERE name = ?", (name,))

    @contextmanager
    def importing(
        self, run: str, *, mode: str = "create", source_format: str | None = None,
        source_path: str | None = None, system_version: str | None = None, system: str | None = None,
    ) -> Iterator[RunWriter]:
        """Open one transaction for importing into `run`; any exception rolls it all back.

        mode: "create" refuses an existing run, "replace" drops it first, "append" adds to it.
        """
        with self.transaction() as conn:
            exists = conn.execute("SELECT 1 FROM runs WHERE name = ?", (run,)).fetchone() is not None
            if exists and mode == "create":
                raise RunExists(f"run {run!r} already exists; pass --replace or --append")
            if exists and mode == "replace":
                self._delete_run(conn, run)
                exists = False
            if not exists:
                conn.execute(
                    "INSERT INTO runs (name, created_at, source_format, source_path, system_version, system)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (run, now_iso(), source_format, source_path, system_version, system),
                )
            version = conn.execute("SELECT sessions_version FROM runs WHERE name = ?", (run,)).fetchone()[0] + 1
            # a new run's session columns are snapshotted as they are written (an append re-cuts the run's chunks:
            # its first report builds them)
            writer = RunWriter(conn, run, None if exists else SessionPartWriter(conn, run, version))
            yield writer
            writer.flush()
            conn.execute(
                "UPDATE runs SET n_sessions = (SELECT count(*) FROM sessions WHERE run = ?),"
                " data_version = data_version + 1, sessions_version = ? WHERE name = ?",
                (run, version, run),
            )
            if writer.parts is not None:
                writer.parts.close()

    def copy_kb(self, from_run: str, into_run: str) -> None:
        """Give `into_run` the KB revisions of `from_run` (a sample keeps its source's knowledge base)."""
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO kb (run, id, revision, status, title, body, updated_at, doc)"
                         " SELECT ?, id, revision, status, title, body, updated_at, doc FROM kb WHERE run = ?",
                         (into_run, from_run))

    def set_baseline(self, run: str, baseline: str | None) -> None:
        """The run a reviewer compares `run` with, remembered across launches."""
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET metadata = json_set(coalesce(metadata, '{}'), '$.baseline', ?) WHERE name = ?",
                         (baseline, run))

    def baseline_of(self, run: str) -> str | None:
        """The remembered baseline of a run, if it still exists."""
        baseline = self._one("SELECT json_extract(metadata, '$.baseline') FROM runs WHERE name = ?", (run,))
        return baseline if baseline and baseline != run and self.has_run(baseline) else None

    def set_run_metadata(self, run: str, metadata: dict[str, Any]) -> None:
        self.conn.execute("UPDATE runs SET metadata = ? WHERE name = ?", (orjson.dumps(metadata).decode(), run))
