"""Opening a file of an older schema: what it held reads back the same after the migration."""

from __future__ import annotations

import json
import sqlite3

from cstui.store import SCHEMA_VERSION, Store

# The verdict table as schema v8 stored it (one row carried its run, batch, source and time).
V8_RESULTS = """
CREATE TABLE results (
    id INTEGER PRIMARY KEY, run TEXT NOT NULL, sid INTEGER NOT NULL, evaluator TEXT NOT NULL,
    evaluator_version TEXT NOT NULL, passed INTEGER, score REAL, label TEXT, rationale TEXT, evidence TEXT,
    source TEXT NOT NULL DEFAULT 'cstui', batch TEXT, current INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL,
    detail TEXT);
CREATE INDEX results_current ON results (run, evaluator, passed) WHERE current = 1;
CREATE INDEX results_by_session ON results (sid, evaluator);
"""
COLUMNS = ("id, run, sid, evaluator, evaluator_version, passed, score, label, rationale, evidence, source, batch, "
           "current, created_at, detail")


def _as_v8(path) -> list[tuple]:
    """Rewrite a current file's verdicts into the v8 layout, with the history and odd rows v8 allowed; returns
    the rows as v8 held them."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM results ORDER BY id").fetchall()
        sid = rows[0][2]
        top = rows[-1][0]
        rows += [  # a replaced verdict kept as history, a batchless import, a judge's transcript
            (top + 1, "candidate", sid, "pii_leak", "1", 0, None, None, "old verdict", "[]", "cstui", "b-old", 0,
             "2026-01-01T00:00:00+00:00", None),
            (top + 2, "candidate", sid, "langfuse:helpfulness", "-", 1, 0.75, None, "imported", "[]", "langfuse",
             None, 1, "2026-01-02T00:00:00+00:00", None),
            (top + 3, "candidate", sid, "resolution_judge", "3", 0, None, "unresolved", "why", "[]",
             "judge:local/x", "b-judge", 1, "2026-01-03T00:00:00+00:00", json.dumps({"steps": ["a"]})),
        ]
        triggers = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
        conn.executescript("".join(f"DROP TRIGGER {t};" for t in triggers) +  # v13's, as every later object
                           "DROP TABLE otlp_staging; DROP TABLE cstui_writing; DROP TABLE cstui_meta; ALTER TABLE frame_cache DROP COLUMN mac;"
                           " ALTER TABLE audit DROP COLUMN mac; PRAGMA application_id = 0;"
                           "DROP VIEW results; DROP TABLE verdicts; DROP TABLE verdict_sets;"
                           " ALTER TABLE runs DROP COLUMN sessions_version;" + V8_RESULTS)
        conn.executemany(f"INSERT INTO results ({COLUMNS}) VALUES ({','.join('?' * 15)})", rows)
        conn.execute("PRAGMA user_version = 8")
    return rows


def test_v8_verdicts_read_back_the_same_after_migrating(demo_db):
    with Store(demo_db) as store:
        before_report = store.session_results("candidate", "S-000099")
    rows = _as_v8(demo_db)
    with Store(demo_db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.conn.execute(f"SELECT {COLUMNS} FROM results ORDER BY id").fetchall() == rows
        assert store.session_results("candidate", "S-000099") == before_report
        n_sets = store.conn.execute("SELECT count(*) FROM verdict_sets").fetchone()[0]
        assert n_sets == len({(r[1], r[11], r[10], r[3], r[4], r[13]) for r in rows}) < len(rows) / 10
        assert store.conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'results_%'").fetchone()[0] == 0
        indexes = {n for (n,) in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'verdicts'")}
        assert indexes == {"verdicts_by_set"}  # v12: one index, (vset, sid)


def test_reading_one_sessions_verdicts_never_scans_the_verdicts_table(demo_db):
    """With verdicts indexed by (set, session), a session's verdicts are found through its run's sets; a plan that
    walks the table instead reads 21M rows at a million sessions each time the TUI opens a session."""
    from cstui.store import Store

    with Store(demo_db) as store:
        store.add_label("candidate", {"session_id": "S-000099", "evaluator": "pii_leak", "verdict": "fail"},
                        reviewer="t")
        seen: list[str] = []
        store.conn.set_trace_callback(seen.append)
        store.session_results("candidate", "S-000099")
        store.labelled_verdicts("candidate")
        store.conn.set_trace_callback(None)
        reads = [q for q in seen if "verdicts" in q]
        plans = [[row[-1] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {q}")] for q in reads]
    assert len(reads) == 2
    assert not [step for plan in plans for step in plan if step.startswith(("SCAN v", "SCAN r", "SCAN verdicts"))], plans


def test_a_new_evaluation_retires_migrated_verdicts(demo_db, cli):
    _as_v8(demo_db)
    assert cli("eval", "--run", "candidate", "--evaluator", "pii_leak", "--db", demo_db).code == 0
    with Store(demo_db) as store:
        per_session = store.conn.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM results WHERE run = 'candidate' AND evaluator = 'pii_leak'"
            " AND current = 1 GROUP BY sid)").fetchone()[0]
        history = store.conn.execute("SELECT count(*) FROM results WHERE run = 'candidate' AND evaluator = 'pii_leak'"
                                     " AND current = 0").fetchone()[0]
        n_sessions = store.conn.execute("SELECT count(*) FROM sessions WHERE run = 'candidate'").fetchone()[0]
    assert per_session == 1 and history == n_sessions + 1  # every old verdict retired, the v8 history kept
