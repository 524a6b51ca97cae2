"""Import throughput as a ratio to raw `sqlite3.executemany` of the same rows, measured in one run.

    python bench/bench_import.py [--n 100000]

The raw side gets the exact rows cstui writes (sessions and spans, pre-built in memory, same schema and
indices, one transaction) so the ratio isolates what cstui adds: reading, JSON parsing, validation,
derivation of indexed columns and batching. Target: ratio >= 0.30.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_sessions import generate  # noqa: E402
from table import raw_write_seconds, record  # noqa: E402

from cstui.config import Config  # noqa: E402
from cstui.ingest import import_files, iter_native_sessions, session_row  # noqa: E402
from cstui.store import MIGRATIONS, Store  # noqa: E402


def raw_session_rows(path: Path, cfg: Config) -> Iterator[tuple[tuple, list[tuple]]]:
    """(sessions row, spans rows) per session: exactly what cstui's importer writes, for the raw baseline."""
    for sid, (_, _, data) in enumerate(iter_native_sessions(path, "native", cfg), start=1):
        row = session_row(data, cfg)
        yield ((sid, "raw", row.session_id, row.tier, row.intent, row.channel, row.segment, row.category,
                row.started_at, row.n_turns, len(row.spans), row.confidence, row.correct, row.resolved,
                int(row.escalated), row.escalation_turn, row.doc), [(sid, *sp) for sp in row.spans])


def raw_rows(path: Path, cfg: Config) -> tuple[list[tuple], list[tuple]]:
    sessions, spans = [], []
    for session, session_spans in raw_session_rows(path, cfg):
        sessions.append(session)
        spans.extend(session_spans)
    return sessions, spans


def time_raw(db: Path, sessions: list[tuple], spans: list[tuple]) -> float:
    return raw_write_seconds(db, MIGRATIONS[1], [
        ("INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", sessions),
        ("INSERT INTO spans (sid, span_id, parent_id, kind, name, turn_index, status, doc) VALUES (?,?,?,?,?,?,?,?)",
         spans)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    cfg = Config()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "sessions.jsonl"
        generate(src, args.n)
        store = Store(Path(tmp) / "cstui.db")
        t0 = time.perf_counter()
        report = import_files(store, [src], "bench", cfg=cfg)
        cstui_s = time.perf_counter() - t0
        store.close()
        sessions, spans = raw_rows(src, cfg)
        raw_s = time_raw(Path(tmp) / "raw.db", sessions, spans)
    ratio = raw_s / cstui_s
    print(f"import: {report.n_sessions:,} sessions / {report.n_spans:,} spans")
    print(f"  cstui import           {cstui_s:7.2f} s  ({report.n_sessions / cstui_s:,.0f} sessions/s)")
    print(f"  raw executemany        {raw_s:7.2f} s")
    print(f"  ratio raw/cstui        {ratio:7.2f}   (target >= 0.30) {'OK' if ratio >= 0.3 else 'MISSED'}")
    record("import throughput vs raw executemany", ratio, "x", ">= 0.30", ratio >= 0.3,
           f"{report.n_sessions:,} sessions, {report.n_spans:,} spans in {cstui_s:.1f} s")


if __name__ == "__main__":
    main()
