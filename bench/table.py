"""Budget rows shared by the bench scripts; `run_all.py` collects them into one table.

Each script still prints its own report; `record` also appends a JSON line to $CSTUI_BENCH_JSON when set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def record(name: str, value: float | str, unit: str, budget: str, ok: bool | None, note: str = "") -> None:
    path = os.environ.get("CSTUI_BENCH_JSON")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"name": name, "value": value, "unit": unit, "budget": budget, "ok": ok,
                                 "note": note}) + "\n")


def raw_write_seconds(db: Path, ddl: str, inserts: list[tuple[str, list[tuple]]]) -> float:
    """Seconds raw `sqlite3.executemany` takes to write these rows in one transaction (WAL, synchronous NORMAL, as
    cstui opens its files), into tables `ddl` creates: the baseline the import and serve benches compare with."""
    import sqlite3
    import time

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(ddl)
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for sql, rows in inserts:
        conn.executemany(sql, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed
