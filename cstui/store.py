"""The SQLite store: one file holds runs, sessions, span trees, KB revisions, results and labels.

Design choices that other code relies on:
- WAL mode with a busy timeout, so the TUI keeps reading while another process imports.
- A session's document (the native JSON minus spans) is kept verbatim in `sessions.doc`; spans live
  in their own table (one row each, also verbatim in `doc`) so span trees are an indexed lookup.
- Results and labels are append-only. `results.current` marks the newest verdict per
  (session, evaluator); the newest label per (session, evaluator) is the one metrics use.
- Every import is one transaction: a bad line rolls back and leaves the main file untouched.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import polars as pl
    import sqlite_utils

    from cstui.models import EvalResult, KBArticle, Session

SCHEMA_VERSION = 7

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS runs (
        name TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        source_format TEXT,
        source_path TEXT,
        system_version TEXT,
        n_sessions INTEGER NOT NULL DEFAULT 0,
        metadata TEXT
    );
    CREATE TABLE IF NOT EXISTS sessions (
        id INTEGER PRIMARY KEY,
        run TEXT NOT NULL,
        session_id TEXT NOT NULL,
        tier INTEGER,
        intent TEXT,
        channel TEXT,
        segment TEXT,
        category TEXT,
        started_at TEXT,
        n_turns INTEGER NOT NULL,
        n_spans INTEGER NOT NULL,
        confidence REAL,
        correct INTEGER,
        resolved INTEGER,
        escalated INTEGER NOT NULL DEFAULT 0,
        escalation_turn INTEGER,
        doc TEXT NOT NULL,
        UNIQUE (run, session_id)
    );
    CREATE INDEX IF NOT EXISTS sessions_run_tier ON sessions (run, tier);
    CREATE TABLE IF NOT EXISTS spans (
        id INTEGER PRIMARY KEY,
        sid INTEGER NOT NULL,
        span_id TEXT NOT NULL,
        parent_id TEXT,
        kind TEXT NOT NULL,
        name TEXT,
        turn_index INTEGER,
        status TEXT,
        doc TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS spans_by_session ON spans (sid);
    CREATE TABLE IF NOT EXISTS kb (
        run TEXT NOT NULL,
        id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        title TEXT,
        body TEXT,
        updated_at TEXT,
        doc TEXT NOT NULL,
        PRIMARY KEY (run, id, revision)
    );
    CREATE TABLE IF NOT EXISTS results (
        id INTEGER PRIMARY KEY,
        run TEXT NOT NULL,
        sid INTEGER NOT NULL,
        evaluator TEXT NOT NULL,
        evaluator_version TEXT NOT NULL,
        passed INTEGER,
        score REAL,
        label TEXT,
        rationale TEXT,
        evidence TEXT,
        source TEXT NOT NULL DEFAULT 'cstui',
        batch TEXT,
        current INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS results_current ON results (run, evaluator, passed) WHERE current = 1;
    CREATE INDEX IF NOT EXISTS results_by_session ON results (sid, evaluator);
    CREATE TABLE IF NOT EXISTS labels (
        id INTEGER PRIMARY KEY,
        run TEXT NOT NULL,
        session_id TEXT NOT NULL,
        evaluator TEXT,
        verdict TEXT,
        correct INTEGER,
        tier INTEGER,
        intent TEXT,
        reason TEXT,
        note TEXT,
        reviewer TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS labels_by_session ON labels (run, session_id, evaluator, id);
    CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # v2: runs belong to a system (drift compares consecutive runs of one system); draft-assist facts
    # per session for the online metrics; drift events with their remediation notes.
    2: """
    ALTER TABLE runs ADD COLUMN system TEXT;
    CREATE TABLE IF NOT EXISTS drafts (
        sid INTEGER PRIMARY KEY,
        run TEXT NOT NULL,
        day TEXT,
        decision TEXT,
        latency_ms REAL,
        cost_usd REAL,
        edit_distance REAL,
        handle_time_s REAL,
        hallucination_report INTEGER,
        escalated INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS drafts_by_run ON drafts (run, day);
    CREATE TABLE IF NOT EXISTS drift_events (
        id INTEGER PRIMARY KEY,
        system TEXT,
        run TEXT NOT NULL,
        previous_run TEXT NOT NULL,
        metric TEXT NOT NULL,
        scope TEXT NOT NULL,
        previous REAL,
        current REAL,
        delta REAL,
        n_previous INTEGER,
        n_current INTEGER,
        p_value REAL,
        detected_at TEXT NOT NULL,
        note TEXT,
        noted_by TEXT,
        noted_at TEXT
    );
    CREATE INDEX IF NOT EXISTS drift_by_run ON drift_events (run);
    CREATE TABLE IF NOT EXISTS evaluator_bits (
        run TEXT NOT NULL,
        evaluator TEXT NOT NULL,
        word INTEGER NOT NULL,
        bit INTEGER NOT NULL,
        version TEXT,
        PRIMARY KEY (run, evaluator)
    );
    CREATE TABLE IF NOT EXISTS verdict_masks (
        sid INTEGER NOT NULL,
        word INTEGER NOT NULL,
        run TEXT NOT NULL,
        present INTEGER NOT NULL DEFAULT 0,
        applies INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (sid, word)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS verdict_masks_by_run ON verdict_masks (run);
    CREATE INDEX IF NOT EXISTS sessions_frame_columns ON sessions (run, id, session_id, tier, intent, channel,
        segment, category, started_at, n_turns, n_spans, confidence, correct, resolved, escalated, escalation_turn);
    """,
    # v3: columnar snapshots of a run's session and verdict frames (Arrow IPC), valid for one data_version
    # of the run; metrics at 100k sessions read them in milliseconds instead of re-reading rows.
    3: """
    ALTER TABLE runs ADD COLUMN data_version INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE IF NOT EXISTS frame_cache (
        run TEXT NOT NULL,
        kind TEXT NOT NULL,
        data_version INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (run, kind)
    );
    """,
    # v4: LLM judges — the judge transcript with each verdict, and a cache of completions so an
    # identical rerun makes no calls (keyed by model, prompt version, step and input hash).
    4: """
    ALTER TABLE results ADD COLUMN detail TEXT;
    CREATE TABLE IF NOT EXISTS judge_cache (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        step TEXT NOT NULL,
        text TEXT NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cost_usd REAL,
        created_at TEXT NOT NULL
    );
    """,
    # v5: review queues — random, stratified, reproducible samples that reviewers label one by one, so
    # judge-human agreement is measured on an unbiased sample rather than on triaged failures.
    5: """
    CREATE TABLE IF NOT EXISTS review_queues (
        name TEXT PRIMARY KEY,
        run TEXT NOT NULL,
        seed INTEGER NOT NULL,
        size INTEGER NOT NULL,
        stratify TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS review_items (
        queue TEXT NOT NULL,
        position INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        stratum TEXT,
        PRIMARY KEY (queue, position)
    );
    """,
    # v6: the golden / regression set — append-only cases taken from any run, with the reason and who
    # added them; the native document (spans included) is kept so the set outlives its source run.
    6: """
    CREATE TABLE IF NOT EXISTS golden (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        source_run TEXT NOT NULL,
        evaluator TEXT,
        reason TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS golden_by_session ON golden (session_id);
    """,
    # v7: what each import brought in (sessions, turns, tool calls and errors, escalations, orphan and
    # synthetic spans, warnings), so a reviewer can check a run against its source files.
    7: """
    ALTER TABLE runs ADD COLUMN import_stats TEXT;
    """,
}

BATCH = 2000


def _backfill_drafts(conn: sqlite3.Connection) -> None:
    """v2: derive draft rows for sessions imported before the drafts table existed."""
    from cstui.drafts import draft_record
    from cstui.models import Session

    rows = []
    for sid, run, escalated, doc in conn.execute(
            "SELECT id, run, escalated, doc FROM sessions WHERE instr(doc, '\"draft\"') > 0"):
        record = draft_record(Session.model_validate(orjson.loads(doc)))
        if record is not None:
            rows.append((sid, run, *record.row(), escalated))
    conn.executemany("INSERT INTO drafts VALUES (?,?,?,?,?,?,?,?,?,?)", rows)


def _backfill_v2(conn: sqlite3.Connection) -> None:
    _backfill_drafts(conn)
    for (run,) in conn.execute("SELECT name FROM runs").fetchall():
        cur = conn.execute("SELECT sid, evaluator, evaluator_version, passed FROM results WHERE run = ? AND current = 1",
                           (run,))
        while chunk := cur.fetchmany(20000):
            update_verdict_masks(conn, run, chunk)


def _backfill_import_stats(conn: sqlite3.Connection) -> None:
    """v7: derive the import counts of runs imported before they were recorded (warnings are unknown: 0)."""
    for (run,) in conn.execute("SELECT name FROM runs").fetchall():
        sessions, turns, escalations = conn.execute(
            "SELECT count(*), coalesce(sum(n_turns), 0), coalesce(sum(escalated), 0) FROM sessions WHERE run = ?",
            (run,)).fetchone()
        calls, errors, orphans, synthetic = conn.execute(
            "SELECT count(*), coalesce(sum(p.status = 'error'), 0),"
            " coalesce(sum(json_extract(p.doc, '$.attributes.orphan') = 1), 0),"
            " coalesce(sum(json_extract(p.doc, '$.attributes.synthetic') = 1), 0)"
            " FROM spans p JOIN sessions s ON s.id = p.sid WHERE s.run = ? AND p.kind = 'tool'", (run,)).fetchone()
        stats = {"sessions": sessions, "turns": turns, "tool_calls": calls, "tool_errors": errors,
                 "escalations": escalations, "orphan_spans": orphans, "synthetic_spans": synthetic, "warnings": 0}
        conn.execute("UPDATE runs SET import_stats = ? WHERE name = ?", (orjson.dumps(stats).decode(), run))


BACKFILLS = {2: _backfill_v2, 7: _backfill_import_stats}
MASK_BITS = 62  # evaluators per mask word; stays clear of the int64 sign bit


def update_verdict_masks(conn: sqlite3.Connection, run: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Fold new current verdicts (sid, evaluator, version, passed) into the per-session bit masks.

    Metrics read one row of masks per session instead of one row per verdict: at 100k sessions x 18
    evaluators that is the difference between ~9 s and ~0.1 s.
    """
    bits = {ev: (word, bit) for ev, word, bit in conn.execute(
        "SELECT evaluator, word, bit FROM evaluator_bits WHERE run = ?", (run,))}
    versions: dict[str, str] = {}
    delta: dict[tuple[int, int], list[int]] = {}
    for sid, evaluator, version, passed in rows:
        if evaluator not in bits:
            n = len(bits)
            bits[evaluator] = (n // MASK_BITS, n % MASK_BITS)
            conn.execute("INSERT INTO evaluator_bits (run, evaluator, word, bit) VALUES (?,?,?,?)",
                         (run, evaluator, *bits[evaluator]))
        versions[evaluator] = version
        word, bit = bits[evaluator]
        mask = 1 << bit
        d = delta.setdefault((sid, word), [0, 0, 0])
        d[0] |= mask
        if passed is not None:
            d[1] |= mask
            if not passed:
                d[2] |= mask
    conn.executemany("UPDATE evaluator_bits SET version = ? WHERE run = ? AND evaluator = ?",
                     [(v, run, ev) for ev, v in versions.items()])
    conn.executemany(
        "INSERT INTO verdict_masks (sid, word, run, present, applies, failed) VALUES (?,?,?,?,?,?)"
        " ON CONFLICT (sid, word) DO UPDATE SET present = present | excluded.present,"
        " applies = (applies & ~?) | excluded.applies, failed = (failed & ~?) | excluded.failed",
        [(sid, word, run, d[0], d[1], d[2], d[0], d[0]) for (sid, word), d in delta.items()],
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_db_path() -> Path:
    if env := os.environ.get("CSTUI_DB"):
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("cstui")) / "cstui.db"


class StoreError(Exception):
    pass


class RunExists(StoreError):
    pass


class UnknownRun(StoreError):
    pass


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


def _b(v: bool | None) -> int | None:
    return None if v is None else int(v)


class Store:
    """All reads and writes go through here; nothing above it writes SQL."""

    def __init__(self, path: Path | str, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: no such database")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self.conn.execute("PRAGMA busy_timeout = 30000")
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    # ------------------------------------------------------------------ plumbing
    @property
    def db(self) -> sqlite_utils.Database:
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema v{version} is newer than this cstui (v{SCHEMA_VERSION})")
        if version == SCHEMA_VERSION:
            return
        with self.transaction() as conn:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                if target in BACKFILLS:
                    BACKFILLS[target](conn)
                conn.execute(f"PRAGMA user_version = {target}")

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ runs
    def runs(self) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT name, n_sessions, created_at, source_format, system_version, system, metadata, import_stats"
            " FROM runs ORDER BY created_at, name"
        )
        cols = [c[0] for c in cur.description]
        runs = [dict(zip(cols, row, strict=True)) for row in cur]
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
        conn.execute("DELETE FROM results WHERE run = ?", (name,))
        conn.execute("DELETE FROM drafts WHERE run = ?", (name,))
        conn.execute("DELETE FROM verdict_masks WHERE run = ?", (name,))
        conn.execute("DELETE FROM evaluator_bits WHERE run = ?", (name,))
        conn.execute("DELETE FROM frame_cache WHERE run = ?", (name,))
        conn.execute("DELETE FROM sessions WHERE run = ?", (name,))
        conn.execute("DELETE FROM kb WHERE run = ?", (name,))
        conn.execute("DELETE FROM runs WHERE name = ?", (name,))
        # Labels are kept: they are reviewers' work, keyed by (run, session_id), and re-attach.

    # ------------------------------------------------------------------ import
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
            writer = RunWriter(conn, run)
            yield writer
            writer.flush()
            conn.execute(
                "UPDATE runs SET n_sessions = (SELECT count(*) FROM sessions WHERE run = ?),"
                " data_version = data_version + 1 WHERE name = ?",
                (run, run),
            )

    # ------------------------------------------------------------------ sessions
    def session_ids(self, run: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT session_id FROM sessions WHERE run = ? ORDER BY id", (run,))]

    def sids_for(self, run: str, session_ids: Sequence[str]) -> list[int]:
        """Row ids of the given sessions of a run, in the order given (unknown ids are skipped)."""
        found: dict[str, int] = {}
        ids = list(session_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update((sid, rid) for rid, sid in self.conn.execute(
                f"SELECT id, session_id FROM sessions WHERE run = ? AND session_id IN ({marks})", (run, *chunk)))
        return [found[s] for s in ids if s in found]

    def run_of_session(self, session_id: str) -> str:
        """The run holding a session id, when exactly one does."""
        runs = [r for (r,) in self.conn.execute("SELECT run FROM sessions WHERE session_id = ?", (session_id,))]
        if not runs:
            raise StoreError(f"no session {session_id!r} in {self.path}")
        if len(runs) > 1:
            raise StoreError(f"session {session_id!r} is in runs {', '.join(sorted(runs))}; pass --run")
        return runs[0]

    def session_doc(self, run: str, session_id: str) -> dict[str, Any]:
        """The native JSON document of one session, spans included."""
        row = self.conn.execute(
            "SELECT id, doc FROM sessions WHERE run = ? AND session_id = ?", (run, session_id)
        ).fetchone()
        if row is None:
            raise StoreError(f"no session {session_id!r} in run {run!r}")
        data = orjson.loads(row[1])
        data["spans"] = [orjson.loads(d) for (d,) in self.conn.execute(
            "SELECT doc FROM spans WHERE sid = ? ORDER BY id", (row[0],))]
        return data

    def session(self, run: str, session_id: str) -> Session:
        from cstui.models import Session

        return Session.model_validate(self.session_doc(run, session_id))

    def iter_session_docs(self, run: str) -> Iterator[dict[str, Any]]:
        """Native documents in import order, for export; streams spans alongside."""
        span_cur = self.conn.cursor().execute(
            "SELECT s.sid, s.doc FROM spans s JOIN sessions x ON x.id = s.sid WHERE x.run = ? ORDER BY s.sid, s.id",
            (run,),
        )
        pending = span_cur.fetchone()
        for sid, doc in self.conn.cursor().execute("SELECT id, doc FROM sessions WHERE run = ? ORDER BY id", (run,)):
            data = orjson.loads(doc)
            spans = []
            while pending is not None and pending[0] == sid:
                spans.append(orjson.loads(pending[1]))
                pending = span_cur.fetchone()
            data["spans"] = spans
            yield data

    def _cached_frame(self, run: str, kind: str, build: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """A run's frame from its columnar snapshot when that matches the run's data_version, else built
        from rows (and snapshotted). Version and rows are read in one transaction, so a snapshot never
        outlives the data it was built from."""
        import io

        import polars as pl

        own = not self.conn.in_transaction
        if own:
            self.conn.execute("BEGIN")
        try:
            version = self._one("SELECT data_version FROM runs WHERE name = ?", (run,))
            row = self.conn.execute("SELECT data_version, data FROM frame_cache WHERE run = ? AND kind = ?",
                                    (run, kind)).fetchone()
            if row is not None and row[0] == version:
                return pl.read_ipc(io.BytesIO(row[1]))
            frame = build()
        finally:
            if own:
                self.conn.execute("COMMIT")
        if version is not None and own:
            buf = io.BytesIO()
            frame.write_ipc(buf, compression="lz4")
            # Never wait for another writer here: the snapshot is only an optimisation.
            self.conn.execute("PRAGMA busy_timeout = 0")
            try:
                self.conn.execute(
                    "INSERT OR REPLACE INTO frame_cache (run, kind, data_version, data) SELECT ?, ?, ?, ?"
                    " WHERE (SELECT data_version FROM runs WHERE name = ?) = ?",
                    (run, kind, version, buf.getvalue(), run, version))
            except sqlite3.OperationalError:  # busy, or a read-only file
                pass
            finally:
                self.conn.execute("PRAGMA busy_timeout = 30000")
        return frame

    def sessions_frame(self, run: str) -> pl.DataFrame:
        """Indexed session columns, with the newest human overrides of tier / intent / correctness applied."""
        import polars as pl

        def build() -> pl.DataFrame:
            rows = self.conn.execute(
                "SELECT id AS sid, session_id, tier, intent, channel, segment, category, started_at, n_turns, n_spans,"
                " confidence, correct, resolved, escalated, escalation_turn FROM sessions WHERE run = ? ORDER BY id",
                (run,)).fetchall()
            schema = {
                "sid": pl.Int64, "session_id": pl.Utf8, "tier": pl.Int64, "intent": pl.Utf8, "channel": pl.Utf8,
                "segment": pl.Utf8, "category": pl.Utf8, "started_at": pl.Utf8, "n_turns": pl.Int64,
                "n_spans": pl.Int64, "confidence": pl.Float64, "correct": pl.Boolean, "resolved": pl.Boolean,
                "escalated": pl.Boolean, "escalation_turn": pl.Int64,
            }
            return pl.DataFrame(rows, schema=schema, orient="row")

        frame = self._cached_frame(run, "sessions", build)
        overrides = self.conn.execute(
            """SELECT session_id,
                      (SELECT correct FROM labels l WHERE l.run = x.run AND l.session_id = x.session_id
                        AND l.evaluator IS NULL AND l.correct IS NOT NULL ORDER BY id DESC LIMIT 1),
                      (SELECT tier FROM labels l WHERE l.run = x.run AND l.session_id = x.session_id
                        AND l.tier IS NOT NULL ORDER BY id DESC LIMIT 1),
                      (SELECT intent FROM labels l WHERE l.run = x.run AND l.session_id = x.session_id
                        AND l.intent IS NOT NULL ORDER BY id DESC LIMIT 1)
               FROM (SELECT DISTINCT run, session_id FROM labels WHERE run = ?) x""", (run,)).fetchall()
        if not overrides:
            return frame
        human = pl.DataFrame(overrides, schema={"session_id": pl.Utf8, "h_correct": pl.Int64, "h_tier": pl.Int64,
                                                "h_intent": pl.Utf8}, orient="row")
        return (frame.join(human, on="session_id", how="left")
                .with_columns(correct=pl.coalesce(pl.col("h_correct").cast(pl.Boolean), pl.col("correct")),
                              tier=pl.coalesce(pl.col("h_tier"), pl.col("tier")),
                              intent=pl.coalesce(pl.col("h_intent"), pl.col("intent")))
                .drop("h_correct", "h_tier", "h_intent"))

    def drafts_frame(self, run: str) -> pl.DataFrame:
        """One row per draft-assist session: the agent's decision, edit distance, latency, cost."""
        import polars as pl

        def build() -> pl.DataFrame:
            rows = self.conn.execute(
                """SELECT sid, day, decision, latency_ms, cost_usd, edit_distance, handle_time_s, hallucination_report,
                          escalated FROM drafts WHERE run = ? ORDER BY sid""",
                (run,),
            ).fetchall()
            schema = {"sid": pl.Int64, "day": pl.Utf8, "decision": pl.Utf8, "latency_ms": pl.Float64,
                      "cost_usd": pl.Float64, "edit_distance": pl.Float64, "handle_time_s": pl.Float64,
                      "hallucination_report": pl.Int64, "escalated": pl.Int64}
            return pl.DataFrame(rows, schema=schema, orient="row")

        return self._cached_frame(run, "drafts", build)

    # ------------------------------------------------------------------ KB
    def kb_articles(self, run: str) -> list[KBArticle]:
        from cstui.models import KBArticle

        return [KBArticle.model_validate(orjson.loads(doc)) for (doc,) in self.conn.execute(
            "SELECT doc FROM kb WHERE run = ? ORDER BY id, revision", (run,))]

    # ------------------------------------------------------------------ results
    def session_json_chunks(self, sids: Sequence[int], size: int) -> Iterator[list[tuple[int, bytes]]]:
        """Native JSON (spans included) of the given sessions, in chunks, for evaluation workers."""
        for start in range(0, len(sids), size):
            chunk = list(sids[start : start + size])
            marks = ",".join("?" * len(chunk))
            docs = dict(self.conn.execute(f"SELECT id, doc FROM sessions WHERE id IN ({marks})", chunk))
            spans: dict[int, list[bytes]] = {}
            for sid, doc in self.conn.execute(
                f"SELECT sid, doc FROM spans WHERE sid IN ({marks}) ORDER BY sid, id", chunk
            ):
                spans.setdefault(sid, []).append(doc if isinstance(doc, bytes) else doc.encode())
            out = []
            for sid in chunk:
                doc = docs[sid] if isinstance(docs[sid], bytes) else docs[sid].encode()
                body = doc.rstrip()[:-1]  # splice spans into the stored object without re-parsing it
                sep = b"," if body.rstrip()[-1:] != b"{" else b""
                out.append((sid, body + sep + b'"spans":[' + b",".join(spans.get(sid, [])) + b"]}"))
            yield out

    @contextmanager
    def results_writer(self, run: str, *, batch: str | None = None, source: str = "cstui") -> Iterator[Any]:
        """One transaction for a whole evaluation; `write(rows)` appends verdicts and retires the ones they
        replace. Nothing is visible to readers until the evaluation completes."""
        stamp = now_iso()
        with self.transaction() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS _new (sid INTEGER, evaluator TEXT)")

            def write(rows: Iterable[tuple[Any, ...]], source_of_rows: str | None = None) -> int:
                """rows: `result_row(...)` tuples (sid, evaluator, version, passed, score, label, rationale, evidence,
                detail); `source_of_rows` overrides the writer's source (judge verdicts in a mixed batch)."""
                origin = source_of_rows or source
                data = [(run, *row, origin, batch, stamp) for row in rows]
                conn.execute("DELETE FROM _new")
                conn.executemany("INSERT INTO _new VALUES (?, ?)", {(d[1], d[2]) for d in data})
                # Drive from the chunk through results_by_session; a scan of the run's current rows per
                # chunk made whole-run evaluation quadratic.
                conn.execute(
                    "UPDATE results SET current = 0 WHERE id IN (SELECT r.id FROM _new n CROSS JOIN results r"
                    " ON r.sid = n.sid AND r.evaluator = n.evaluator WHERE r.current = 1 AND r.run = ?)", (run,))
                conn.executemany(
                    "INSERT INTO results (run, sid, evaluator, evaluator_version, passed, score, label, rationale,"
                    " evidence, detail, source, batch, current, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1,?)",
                    data,
                )
                update_verdict_masks(conn, run, [(d[1], d[2], d[3], d[4]) for d in data])
                return len(data)

            yield write
            conn.execute("UPDATE runs SET data_version = data_version + 1 WHERE name = ?", (run,))

    def results_frame(self, run: str, *, with_labels: bool = True) -> pl.DataFrame:
        """Current verdict per (session, evaluator); `passed` takes the newest human verdict if any.

        Columns: sid, evaluator, evaluator_version, machine_passed, passed, human_verdict.
        """
        import polars as pl

        long = self._cached_frame(run, "results", lambda: self._machine_results_frame(run))
        human = pl.DataFrame(
            self.conn.execute(
                """SELECT s.id, l.evaluator, l.verdict FROM labels l JOIN sessions s
                       ON s.run = l.run AND s.session_id = l.session_id
                   WHERE l.id IN (SELECT max(id) FROM labels WHERE run = ? AND evaluator IS NOT NULL
                                  AND verdict IS NOT NULL GROUP BY session_id, evaluator)""", (run,)).fetchall()
            if with_labels else [],
            schema={"sid": pl.Int64, "evaluator": pl.Utf8, "human_verdict": pl.Utf8}, orient="row",
        )
        if human.is_empty():
            long = long.with_columns(human_verdict=pl.lit(None, dtype=pl.Utf8))
        else:
            long = long.join(human.with_columns(pl.col("evaluator").cast(long.schema["evaluator"])),
                             on=["sid", "evaluator"], how="left")
        return long.with_columns(
            passed=pl.when(pl.col("human_verdict").is_null()).then(pl.col("machine_passed"))
            .otherwise(pl.col("human_verdict") == "pass")
        ).select("sid", "evaluator", "evaluator_version", "machine_passed", "passed", "human_verdict")

    def _machine_results_frame(self, run: str) -> pl.DataFrame:
        """Current machine verdicts expanded from the per-session masks (see `update_verdict_masks`)."""
        import polars as pl

        bits = self.conn.execute("SELECT evaluator, word, bit, version FROM evaluator_bits WHERE run = ?"
                                 " ORDER BY word, bit", (run,)).fetchall()
        evaluators = pl.Categorical()
        masks = pl.DataFrame(
            self.conn.execute("SELECT sid, word, present, applies, failed FROM verdict_masks WHERE run = ?",
                              (run,)).fetchall(),
            schema={"sid": pl.Int64, "word": pl.Int64, "present": pl.Int64, "applies": pl.Int64, "failed": pl.Int64},
            orient="row",
        )
        parts = []
        for evaluator, word, bit, version in bits:
            m = masks.filter(pl.col("word") == word)
            present = (pl.col("present") // (1 << bit)) % 2 == 1
            applies = (pl.col("applies") // (1 << bit)) % 2 == 1
            failed = (pl.col("failed") // (1 << bit)) % 2 == 1
            parts.append(m.filter(present).select(
                "sid", evaluator=pl.lit(evaluator, dtype=evaluators), evaluator_version=pl.lit(version, dtype=pl.Utf8),
                machine_passed=pl.when(applies).then(~failed).otherwise(None)))
        schema = {"sid": pl.Int64, "evaluator": evaluators, "evaluator_version": pl.Utf8, "machine_passed": pl.Boolean}
        return pl.concat(parts) if parts else pl.DataFrame(schema=schema)

    def iter_result_rows(self, run: str) -> Iterator[dict[str, Any]]:
        cur = self.conn.execute(
            """SELECT r.run, s.session_id, r.evaluator, r.evaluator_version, r.passed, r.score, r.label,
                      r.rationale, r.evidence, r.source, r.created_at
               FROM results r JOIN sessions s ON s.id = r.sid
               WHERE r.run = ? AND r.current = 1 ORDER BY r.sid, r.evaluator""",
            (run,),
        )
        cols = [c[0] for c in cur.description]
        for row in cur:
            rec = dict(zip(cols, row, strict=True))
            rec["passed"] = None if rec["passed"] is None else bool(rec["passed"])
            rec["evidence"] = orjson.loads(rec["evidence"]) if rec["evidence"] else []
            yield rec

    def session_results(self, run: str, session_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            """SELECT r.evaluator, r.evaluator_version, r.passed, r.score, r.label, r.rationale, r.evidence,
                      r.detail, r.created_at FROM results r JOIN sessions s ON s.id = r.sid
               WHERE s.run = ? AND s.session_id = ? AND r.current = 1 ORDER BY r.evaluator""",
            (run, session_id),
        )
        cols = [c[0] for c in cur.description]
        out = []
        for row in cur:
            rec = dict(zip(cols, row, strict=True))
            rec["evidence"] = orjson.loads(rec["evidence"]) if rec["evidence"] else []
            rec["detail"] = orjson.loads(rec["detail"]) if rec["detail"] else None
            out.append(rec)
        return out

    # ------------------------------------------------------------------ labels and audit
    def add_label(self, run: str, label: Any, *, reviewer: str | None = None) -> int:
        """Append a reviewer's label and its audit record in one transaction."""
        from cstui.models import Label

        lab: Label = label if isinstance(label, Label) else Label.model_validate(
            {**label, "reviewer": reviewer or label.get("reviewer") or current_reviewer()})
        if self._one("SELECT 1 FROM sessions WHERE run = ? AND session_id = ?", (run, lab.session_id)) is None:
            raise StoreError(f"no session {lab.session_id!r} in run {run!r}")
        stamp = now_iso()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO labels (run, session_id, evaluator, verdict, correct, tier, intent, reason, note,"
                " reviewer, source, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (run, lab.session_id, lab.evaluator, lab.verdict, _b(lab.correct), lab.tier, lab.intent,
                 lab.reason, lab.note, lab.reviewer, lab.source, stamp),
            )
            self._audit(conn, lab.reviewer, "label", {"run": run, "label_id": cur.lastrowid,
                                                       **lab.model_dump(exclude_none=True)}, stamp)
            return int(cur.lastrowid or 0)

    def labeled_session_ids(self, run: str) -> set[str]:
        return {r for (r,) in self.conn.execute("SELECT DISTINCT session_id FROM labels WHERE run = ?", (run,))}

    def labels(self, run: str, session_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM labels WHERE run = ?"
        params: list[Any] = [run]
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        cur = self.conn.execute(sql + " ORDER BY id", params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    def evaluator_versions(self, run: str) -> dict[str, str]:
        return dict(self.conn.execute("SELECT evaluator, version FROM evaluator_bits WHERE run = ?", (run,)).fetchall())

    def labelled_verdicts(self, run: str) -> list[dict[str, Any]]:
        """Each (session, evaluator) a reviewer gave a pass/fail verdict on, the newest label counting, with the
        current machine verdict beside it (`has_result` 0 when the evaluator never ran on that session)."""
        cur = self.conn.execute(
            """SELECT l.session_id, l.evaluator, l.verdict, coalesce(l.note, l.reason) AS reason, l.reviewer,
                      l.source, r.id IS NOT NULL AS has_result, r.passed, r.rationale
               FROM labels l JOIN sessions s ON s.run = l.run AND s.session_id = l.session_id
               LEFT JOIN results r ON r.sid = s.id AND r.evaluator = l.evaluator AND r.current = 1
               WHERE l.id IN (SELECT max(id) FROM labels WHERE run = ? AND evaluator IS NOT NULL
                              AND verdict IN ('pass', 'fail') GROUP BY session_id, evaluator)
               ORDER BY l.id""", (run,))
        cols = [c[0] for c in cur.description]
        out = []
        for row in cur:
            rec = dict(zip(cols, row, strict=True))
            rec["passed"] = None if rec["passed"] is None else bool(rec["passed"])
            out.append(rec)
        return out

    def judge_details(self, run: str, evaluators: Sequence[str]) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
        """(evaluator, judge transcript, label) of the current verdicts of the given judge evaluators."""
        marks = ",".join("?" * len(evaluators))
        for evaluator, detail, label in self.conn.execute(
            f"SELECT evaluator, detail, label FROM results WHERE run = ? AND evaluator IN ({marks}) AND current = 1"
            " AND source LIKE 'judge:%'", (run, *evaluators)):
            yield evaluator, orjson.loads(detail) if detail else None, label

    def set_run_metadata(self, run: str, metadata: dict[str, Any]) -> None:
        self.conn.execute("UPDATE runs SET metadata = ? WHERE name = ?", (orjson.dumps(metadata).decode(), run))

    # ------------------------------------------------------------------ golden set
    def add_golden(self, run: str, session_id: str, reason: str, *, evaluator: str | None = None,
                   reviewer: str | None = None) -> int:
        """Append a regression case (append-only: cases are never edited or removed), audited."""
        doc = orjson.dumps(self.session_doc(run, session_id)).decode()
        reviewer = reviewer or current_reviewer()
        stamp = now_iso()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO golden (session_id, source_run, evaluator, reason, added_by, added_at, doc)"
                " VALUES (?,?,?,?,?,?,?)", (session_id, run, evaluator, reason, reviewer, stamp, doc))
            self._audit(conn, reviewer, "golden_add", {"case": cur.lastrowid, "run": run, "session_id": session_id,
                                                       "evaluator": evaluator, "reason": reason}, stamp)
            return int(cur.lastrowid or 0)

    def golden_cases(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT id, session_id, source_run, evaluator, reason, added_by, added_at, doc"
                                " FROM golden ORDER BY id")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    def golden_session_ids(self) -> set[str]:
        return {r for (r,) in self.conn.execute("SELECT DISTINCT session_id FROM golden")}

    def iter_evidence_rows(self, run: str) -> Iterator[dict[str, Any]]:
        """The governance record: one row per interaction x assertion, then the run's drift events."""
        human: dict[tuple[str, str], dict[str, Any]] = {}
        for lab in self.labels(run):
            if lab["evaluator"] and lab["verdict"]:
                human[(lab["session_id"], lab["evaluator"])] = lab
        system = self._one("SELECT system FROM runs WHERE name = ?", (run,))
        cur = self.conn.execute(
            """SELECT r.created_at, s.session_id, json_extract(s.doc, '$.system.version'), r.evaluator,
                      r.evaluator_version, r.passed, r.rationale, r.evidence, r.source
               FROM results r JOIN sessions s ON s.id = r.sid WHERE r.run = ? AND r.current = 1
               ORDER BY r.sid, r.evaluator""", (run,))
        for at, session_id, version, evaluator, ev_version, passed, rationale, evidence, source in cur:
            lab = human.get((session_id, evaluator))
            machine = None if passed is None else ("pass" if passed else "fail")
            yield {
                "record": "assertion", "timestamp": at, "run": run, "system": system, "system_version": version,
                "session_id": session_id, "evaluator": evaluator, "evaluator_version": ev_version,
                "verdict": lab["verdict"] if lab else machine, "machine_verdict": machine, "source": source,
                "rationale": rationale, "evidence": orjson.loads(evidence) if evidence else [],
                "human_verdict": lab["verdict"] if lab else None, "human_reviewer": lab["reviewer"] if lab else None,
                "human_at": lab["created_at"] if lab else None, "human_note": lab["note"] if lab else None,
                "metric": None, "scope": None, "previous": None, "current": None, "delta": None,
            }
        for e in self.drift_events(run):
            yield {
                "record": "drift_event", "timestamp": e["detected_at"], "run": run, "system": e["system"],
                "system_version": None, "session_id": None, "evaluator": None, "evaluator_version": None,
                "verdict": None, "machine_verdict": None, "source": f"drift vs {e['previous_run']}",
                "rationale": None, "evidence": [], "human_verdict": None, "human_reviewer": e["noted_by"],
                "human_at": e["noted_at"], "human_note": e["note"], "metric": e["metric"], "scope": e["scope"],
                "previous": e["previous"], "current": e["current"], "delta": e["delta"],
            }

    # ------------------------------------------------------------------ review queues
    def create_review_queue(self, name: str, run: str, seed: int, stratify: str | None,
                            items: list[tuple[str, str | None]]) -> None:
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM review_queues WHERE name = ?", (name,)).fetchone():
                raise StoreError(f"a review queue named {name!r} already exists")
            conn.execute("INSERT INTO review_queues (name, run, seed, size, stratify, created_at) VALUES (?,?,?,?,?,?)",
                         (name, run, seed, len(items), stratify, now_iso()))
            conn.executemany("INSERT INTO review_items (queue, position, session_id, stratum) VALUES (?,?,?,?)",
                             [(name, i, sid, stratum) for i, (sid, stratum) in enumerate(items)])

    def review_queues(self, run: str | None = None) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT q.name, q.run, q.seed, q.size, q.stratify, q.created_at,"
            " (SELECT count(DISTINCT i.session_id) FROM review_items i JOIN labels l ON l.run = q.run"
            "   AND l.session_id = i.session_id AND l.source = 'queue' AND l.created_at >= q.created_at"
            "   WHERE i.queue = q.name) AS reviewed"
            " FROM review_queues q" + (" WHERE q.run = ?" if run else "") + " ORDER BY q.created_at, q.name",
            (run,) if run else ())
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    def review_items(self, queue: str) -> list[dict[str, Any]]:
        q = self.conn.execute("SELECT run, created_at FROM review_queues WHERE name = ?", (queue,)).fetchone()
        if q is None:
            raise StoreError(f"no review queue named {queue!r}")
        cur = self.conn.execute(
            "SELECT i.position, i.session_id, i.stratum, EXISTS (SELECT 1 FROM labels l WHERE l.run = ?"
            " AND l.session_id = i.session_id AND l.source = 'queue' AND l.created_at >= ?) AS reviewed"
            " FROM review_items i WHERE i.queue = ? ORDER BY i.position", (q[0], q[1], queue))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    # ------------------------------------------------------------------ judge cache
    def judge_cache_get(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT text, prompt_tokens, completion_tokens, cost_usd FROM judge_cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"text": row[0], "prompt_tokens": row[1] or 0, "completion_tokens": row[2] or 0, "cost_usd": row[3]}

    def judge_cache_put(self, key: str, model: str, prompt_version: str, step: str, completion: Any) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO judge_cache (key, model, prompt_version, step, text, prompt_tokens,"
            " completion_tokens, cost_usd, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (key, model, prompt_version, step, completion.text, completion.prompt_tokens,
             completion.completion_tokens, completion.cost_usd, now_iso()))

    # ------------------------------------------------------------------ drift
    def record_drift(self, run: str, previous_run: str, events: list[dict[str, Any]]) -> None:
        """Replace this comparison's unannotated events; annotated ones are reviewers' work and stay."""
        system = self._one("SELECT system FROM runs WHERE name = ?", (run,))
        stamp = now_iso()
        with self.transaction() as conn:
            conn.execute("DELETE FROM drift_events WHERE run = ? AND previous_run = ? AND note IS NULL",
                         (run, previous_run))
            kept = {(m, s) for m, s in conn.execute(
                "SELECT metric, scope FROM drift_events WHERE run = ? AND previous_run = ?", (run, previous_run))}
            conn.executemany(
                "INSERT INTO drift_events (system, run, previous_run, metric, scope, previous, current, delta,"
                " n_previous, n_current, p_value, detected_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(system, run, previous_run, e["metric"], e["scope"], e["previous"], e["current"], e["delta"],
                  e["n_previous"], e["n_current"], e["p_value"], stamp)
                 for e in events if (e["metric"], e["scope"]) not in kept],
            )

    def drift_events(self, run: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM drift_events" + (" WHERE run = ?" if run else "") + " ORDER BY id"
        cur = self.conn.execute(sql, (run,) if run else ())
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    def note_drift(self, event_id: int, note: str, *, reviewer: str | None = None) -> None:
        """Record what was done about a drift event (audited, like labels)."""
        reviewer = reviewer or current_reviewer()
        stamp = now_iso()
        with self.transaction() as conn:
            row = conn.execute("SELECT run, metric, scope FROM drift_events WHERE id = ?", (event_id,)).fetchone()
            if row is None:
                raise StoreError(f"no drift event {event_id}")
            conn.execute("UPDATE drift_events SET note = ?, noted_by = ?, noted_at = ? WHERE id = ?",
                         (note, reviewer, stamp, event_id))
            self._audit(conn, reviewer, "drift_note", {"event_id": event_id, "run": row[0], "metric": row[1],
                                                        "scope": row[2], "note": note}, stamp)

    def _audit(self, conn: sqlite3.Connection, actor: str, action: str, payload: dict[str, Any], at: str) -> None:
        prev = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = prev[0] if prev else "0" * 64
        body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
        digest = audit_hash(prev_hash, at, actor, action, body)
        conn.execute(
            "INSERT INTO audit (at, actor, action, payload, prev_hash, hash) VALUES (?,?,?,?,?,?)",
            (at, actor, action, body, prev_hash, digest),
        )

    def verify_audit(self) -> tuple[int, str | None]:
        """Walk the hash chain, then check that labels, drift notes and golden cases match their audit records.

        Returns (records checked, description of the first problem or None). The chain catches edits,
        deletions and reordering of audit records; the cross-check catches edits or deletions of the
        audited rows themselves, and of the chain's tail together with them only if a row survives. Record
        the printed head hash elsewhere to catch a truncated tail too.
        """
        prev_hash = "0" * 64
        n = 0
        labels: dict[int, dict[str, Any]] = {}
        drift_notes: dict[int, str] = {}
        golden: set[int] = set()
        for rid, at, actor, action, payload, stored_prev, digest in self.conn.execute(
            "SELECT id, at, actor, action, payload, prev_hash, hash FROM audit ORDER BY id"
        ):
            n += 1
            if stored_prev != prev_hash:
                return n, f"audit record {rid}: previous-hash link broken (a record before it was removed or reordered)"
            if audit_hash(prev_hash, at, actor, action, payload) != digest:
                return n, f"audit record {rid}: contents do not match its hash (edited)"
            prev_hash = digest
            body = orjson.loads(payload)
            if action == "label":
                labels[int(body["label_id"])] = body
            elif action == "drift_note":
                drift_notes[int(body["event_id"])] = body["note"]
            elif action == "golden_add":
                golden.add(int(body["case"]))
        cols = ("session_id", "evaluator", "verdict", "correct", "tier", "intent", "reason", "note", "reviewer",
                "source")
        for row in self.labels_all():
            logged = labels.pop(int(row["id"]), None)
            if logged is None:
                return n, f"label {row['id']} has no audit record (inserted outside cstui, or its record was deleted)"
            for col in cols:
                stored = row[col]
                expected = logged.get(col)
                if col == "correct" and expected is not None:
                    expected = int(expected)
                if stored != expected or (col == "session_id" and row["run"] != logged.get("run")):
                    return n, f"label {row['id']}: {col} differs from its audit record (edited)"
        if labels:
            return n, f"label {min(labels)} was deleted (its audit record remains)"
        for event_id, note in self.conn.execute("SELECT id, note FROM drift_events WHERE note IS NOT NULL"):
            if drift_notes.get(int(event_id)) != note:
                return n, f"drift event {event_id}: its note differs from the audit record (edited)"
        cases = {int(r) for (r,) in self.conn.execute("SELECT id FROM golden")}
        if cases != golden:
            odd = sorted(cases ^ golden)[0]
            return n, f"regression case {odd} does not match the audit log (added or removed outside cstui)"
        return n, None

    def audit_head(self) -> str:
        return self._one("SELECT hash FROM audit ORDER BY id DESC LIMIT 1") or "0" * 64

    def change_marker(self) -> tuple[str, int]:
        """Changes whenever a label, an audited note or a verdict is written: a screen holding metrics compares it
        to know whether they are stale (both lookups read one end of a B-tree)."""
        return self.audit_head(), self._one("SELECT max(rowid) FROM results") or 0

    def labels_all(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM labels ORDER BY id")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]


def result_row(sid: int, r: EvalResult) -> tuple[Any, ...]:
    """The stored columns of one verdict, in `results_writer` order."""
    evidence = orjson.dumps([e.model_dump(exclude_none=True) for e in r.evidence]).decode()
    detail = getattr(r, "detail", None)
    return (sid, r.evaluator, r.evaluator_version, _b(r.passed), r.score, r.label, r.rationale, evidence,
            None if detail is None else orjson.dumps(detail).decode())


def audit_hash(prev_hash: str, at: str, actor: str, action: str, payload: str) -> str:
    return hashlib.sha256("\x1f".join((prev_hash, at, actor, action, payload)).encode()).hexdigest()


def current_reviewer() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class RunWriter:
    """Batched inserts of sessions and spans inside an open import transaction."""

    def __init__(self, conn: sqlite3.Connection, run: str):
        self.conn = conn
        self.run = run
        self.next_sid = (conn.execute("SELECT max(id) FROM sessions").fetchone()[0] or 0) + 1
        self.existing = {r[0] for r in conn.execute("SELECT session_id FROM sessions WHERE run = ?", (run,))}
        self.sessions: list[tuple[Any, ...]] = []
        self.spans: list[tuple[Any, ...]] = []
        self.drafts: list[tuple[Any, ...]] = []
        self.n_sessions = 0
        self.n_spans = 0

    def add(self, row: SessionRow) -> None:
        if row.session_id in self.existing:
            raise StoreError(f"duplicate session_id {row.session_id!r} in run {self.run!r}")
        self.existing.add(row.session_id)
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
            self.sessions.clear()
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
