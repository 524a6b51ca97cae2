"""The schema and its migrations: each version's DDL, the backfills that derive what older files lack."""

from __future__ import annotations

import sqlite3

import orjson

SCHEMA_VERSION = 14

# `PRAGMA application_id` of a cstui database (ASCII "csTU"): a file that is not one is never written to.
APPLICATION_ID = 0x63735455

# Tables whose rows the summaries (verdict masks, columnar snapshots, the search index) are derived from. A write
# to them outside cstui (plain sqlite3, another tool) is counted by cstui's own triggers, and the next open rebuilds
# every summary from the rows instead of trusting them. Verdict inserts are not watched: 21M rows at a million
# sessions would pay ~7 s for it; an inserted verdict is caught by the audit's verdict digests instead.
GUARDED: dict[str, tuple[str, ...]] = {
    "sessions": ("INSERT", "UPDATE", "DELETE"),
    "spans": ("UPDATE", "DELETE"),
    "drafts": ("INSERT", "UPDATE", "DELETE"),
    "verdicts": ("UPDATE", "DELETE"),
    "verdict_sets": ("INSERT", "UPDATE", "DELETE"),
    "verdict_masks": ("INSERT", "UPDATE", "DELETE"),
    "evaluator_bits": ("INSERT", "UPDATE", "DELETE"),
}


def _guard_triggers() -> str:
    return "\n".join(
        f"CREATE TRIGGER IF NOT EXISTS cstui_guard_{table}_{op.lower()} AFTER {op} ON {table}"
        f" WHEN NOT EXISTS (SELECT 1 FROM cstui_writing)"
        f" BEGIN UPDATE cstui_meta SET value = value + 1 WHERE key = 'outside_writes'; END;"
        for table, ops in GUARDED.items() for op in ops)



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
    # v8: full-text search over turn texts and tool span names/results (FTS5). The rowid packs the session:
    # sid << SEARCH_SHIFT | item, so a run's rows are deleted by rowid range, never by scanning the index.
    # search_runs says which sessions of a run are indexed; a search re-indexes a run whose sessions changed.
    8: """
    CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(text, place UNINDEXED, tokenize = 'unicode61');
    CREATE TABLE IF NOT EXISTS search_runs (
        run TEXT PRIMARY KEY,
        sid_lo INTEGER,
        sid_hi INTEGER,
        n INTEGER NOT NULL
    );
    """,
    # v9: what every verdict of one evaluator in one batch shares (run, batch, source, evaluator, version, time) is
    # stored once, in verdict_sets; a verdict row keeps only its own values. A 1M-session evaluation writes 21M
    # rows: this halves what they take on disk and a fifth of the writer's CPU. `results` stays as a view with
    # the old columns, for readers of the file.
    9: """
    CREATE TABLE IF NOT EXISTS verdict_sets (
        id INTEGER PRIMARY KEY,
        run TEXT NOT NULL,
        batch TEXT,
        source TEXT NOT NULL,
        evaluator TEXT NOT NULL,
        evaluator_version TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS verdict_sets_by_run ON verdict_sets (run, evaluator);
    CREATE TABLE IF NOT EXISTS verdicts (
        id INTEGER PRIMARY KEY,
        sid INTEGER NOT NULL,
        vset INTEGER NOT NULL,
        passed INTEGER,
        score REAL,
        label TEXT,
        rationale TEXT,
        evidence TEXT,
        detail TEXT,
        current INTEGER NOT NULL DEFAULT 1
    );
    INSERT INTO verdict_sets (run, batch, source, evaluator, evaluator_version, created_at)
        SELECT run, batch, source, evaluator, evaluator_version, created_at FROM results
        GROUP BY run, batch, source, evaluator, evaluator_version, created_at ORDER BY min(id);
    INSERT INTO verdicts (id, sid, vset, passed, score, label, rationale, evidence, detail, current)
        SELECT r.id, r.sid, v.id, r.passed, r.score, r.label, r.rationale, r.evidence, r.detail, r.current
        FROM results r JOIN verdict_sets v ON v.run = r.run AND v.evaluator = r.evaluator AND v.batch IS r.batch
            AND v.source = r.source AND v.evaluator_version = r.evaluator_version AND v.created_at = r.created_at
        ORDER BY r.id;
    DROP TABLE results;
    CREATE INDEX IF NOT EXISTS verdicts_current ON verdicts (vset, passed) WHERE current = 1;
    CREATE INDEX IF NOT EXISTS verdicts_by_session ON verdicts (sid, vset);
    CREATE VIEW IF NOT EXISTS results AS
        SELECT v.id, s.run, v.sid, s.evaluator, s.evaluator_version, v.passed, v.score, v.label, v.rationale,
               v.evidence, s.source, s.batch, v.current, s.created_at, v.detail
        FROM verdicts v JOIN verdict_sets s ON s.id = v.vset;
    """,
    # v10: sessions_version counts the changes to a run's sessions (its imports), where data_version counts every
    # change (an evaluation too). Snapshots of what only sessions and drafts hold are kept for sessions_version, so
    # the first report after an evaluation does not read a million session rows again. Chunk snapshots of v9 are
    # keyed as v10 no longer reads them: dropped rather than left as dead weight (~50 MB at 1M sessions).
    10: """
    ALTER TABLE runs ADD COLUMN sessions_version INTEGER NOT NULL DEFAULT 0;
    UPDATE runs SET sessions_version = data_version;
    DELETE FROM frame_cache WHERE kind LIKE 'chunks:%';
    """,
    # v11: an evaluation of every session of a run supersedes the run's earlier verdict sets of its evaluators as
    # a whole (`verdict_sets.superseded`) instead of marking each of their rows `current = 0`: at a million
    # sessions that was 21 million rows rewritten across the file, and a second evaluation took ~120 s more than
    # the first. A verdict is current when its row says so and its set is not superseded.
    11: """
    ALTER TABLE verdict_sets ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;
    DROP VIEW IF EXISTS results;
    CREATE VIEW results AS
        SELECT v.id, s.run, v.sid, s.evaluator, s.evaluator_version, v.passed, v.score, v.label, v.rationale,
               v.evidence, s.source, s.batch, (v.current = 1 AND s.superseded = 0) AS current, s.created_at, v.detail
        FROM verdicts v JOIN verdict_sets s ON s.id = v.vset;
    """,
    # v12: one index over verdicts, (vset, sid), in place of verdicts_current (vset, passed) WHERE current = 1 and
    # verdicts_by_session (sid, vset). An evaluation writes each set's rows in rising sid order, so their entries
    # go at the end of the set's range; keyed by sid first, a second evaluation's entries fell between the
    # first's, on every page of a 21M-entry index. One index instead of two is also less to write per verdict and
    # ~260 MB less per evaluation kept at 1M. A session's verdicts are found through its run's sets.
    12: """
    DROP INDEX IF EXISTS verdicts_current;
    DROP INDEX IF EXISTS verdicts_by_session;
    CREATE INDEX IF NOT EXISTS verdicts_by_set ON verdicts (vset, sid);
    """,
    # v13: a handed-over file is data, not instructions. cstui's own write transactions hold a row in
    # cstui_writing; triggers on the tables summaries derive from count writes made without it (GUARDED), and the
    # next open rebuilds the summaries. Columnar snapshots carry an HMAC under a key that never leaves this
    # machine, so a snapshot cstui did not write here is rebuilt, not trusted (the old ones are dropped). Audit
    # records can carry an HMAC under a key kept outside the file (`mac`), which a recomputed chain cannot forge.
    13: f"""
    CREATE TABLE IF NOT EXISTS cstui_writing (token INTEGER);
    CREATE TABLE IF NOT EXISTS cstui_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT OR IGNORE INTO cstui_meta (key, value) VALUES ('outside_writes', 0);
    ALTER TABLE frame_cache ADD COLUMN mac BLOB;
    DELETE FROM frame_cache;
    ALTER TABLE audit ADD COLUMN mac TEXT;
    {_guard_triggers()}
    """,
    # v14: spans `cstui serve` has received and acknowledged but not yet assembled into sessions (one row each; a
    # session's rows leave in the transaction that imports it), so a killed receiver loses nothing it said 200 to.
    14: """
    CREATE TABLE IF NOT EXISTS otlp_staging (
        id INTEGER PRIMARY KEY,
        trace_id TEXT NOT NULL,
        session_key TEXT,
        is_root INTEGER NOT NULL,
        received REAL NOT NULL,
        record BLOB NOT NULL,   -- the OTLP Span message (protobuf), or the span's record as JSON
        resource BLOB           -- a protobuf span's resource attributes (JSON); NULL for a JSON record
    );
    CREATE INDEX IF NOT EXISTS otlp_staging_by_trace ON otlp_staging (trace_id);
    """,
}


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
    from cstui.store.masks import update_verdict_masks

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


def statements(script: str) -> list[str]:
    """A migration's SQL split into complete statements (sqlite3 decides where one ends, so a ';' inside a
    string or a trigger body does not cut it)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {current.strip()[:80]!r}")
    return out
