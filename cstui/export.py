"""`cstui export`: sessions (native format), results, labels and the governance evidence record as JSONL,
CSV or Parquet.

JSONL streams row by row. CSV and Parquet go through polars; nested values (evidence, turns) are
JSON-encoded strings there since those formats are flat.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import orjson

from cstui.store import Store

RESULT_COLUMNS = ("run", "session_id", "evaluator", "evaluator_version", "passed", "score", "label", "rationale",
                  "evidence", "created_at")


def _rows(store: Store, run: str, what: str, session_ids: Collection[str] | None = None) -> Iterator[dict[str, Any]]:
    if session_ids is not None:
        wanted = set(session_ids)
        for row in _rows(store, run, what):
            sid = row.get("session_id")
            if sid is None or sid in wanted:
                yield row
        return
    if what == "sessions":
        yield from store.iter_session_docs(run)
    elif what == "results":
        for rec in store.iter_result_rows(run):
            yield {k: rec[k] for k in RESULT_COLUMNS}
    elif what == "labels":
        yield from store.labels(run)
    elif what == "evidence":
        yield from store.iter_evidence_rows(run)
    else:
        raise ValueError(f"unknown export {what!r}")


def export_sessions_dataset(store: Store, run: str, out: Path, partitions: int) -> int:
    """A run's sessions as a directory of `partitions` Parquet files (columns session_id, document: the native
    JSON) that `cstui eval --sessions DIR` and a Ray cluster read without importing (docs/scale.md). One
    partition is held in memory at a time; the directory appears only once complete."""
    import shutil

    import polars as pl

    if partitions < 1:
        raise ValueError("--partitions must be at least 1")
    total = len(store.run_sids(run))
    per_part = max(1, -(-total // partitions))
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ids: list[str] = []
    docs: list[str] = []
    part = 0

    def flush() -> None:
        nonlocal part
        pl.DataFrame({"session_id": ids, "document": docs}, schema={"session_id": pl.Utf8, "document": pl.Utf8}) \
            .write_parquet(tmp / f"part-{part:05d}.parquet")
        part += 1
        ids.clear()
        docs.clear()

    n = 0
    for doc in store.iter_session_docs(run):
        ids.append(str(doc["session_id"]))
        docs.append(orjson.dumps(doc).decode())
        n += 1
        if len(ids) == per_part:
            flush()
    if ids or part == 0:
        flush()
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    tmp.replace(out)
    return n


def export(store: Store, run: str, *, what: str, fmt: str, out: Path,
           session_ids: Collection[str] | None = None) -> int:
    """Write a run's rows to `out` (a file, `-`, a device or a FIFO: cstui.outfile), or only the rows of
    `session_ids` (what a screen's filter shows; rows of no session, such as drift events, are kept). JSON strings
    have every control, C1, bidi and tag character escaped (`\\u0085`): the same data, nothing a terminal acts on."""
    from cstui.outfile import is_terminal, output_file
    from cstui.textsafe import json_safe_bytes

    if fmt != "jsonl" and is_terminal(out):
        raise ValueError(f"{out} is a terminal: write {fmt} to a file (or use --format jsonl)")
    n = 0
    with output_file(out) as fh:
        if fmt == "jsonl":
            for row in _rows(store, run, what, session_ids):
                fh.write(json_safe_bytes(orjson.dumps(row)) + b"\n")
                n += 1
            return n
        import polars as pl

        flat = [{k: orjson.dumps(v).decode() if isinstance(v, dict | list) else v for k, v in row.items()}
                for row in _rows(store, run, what, session_ids)]
        n = len(flat)
        df = pl.DataFrame(flat, infer_schema_length=None) if flat else pl.DataFrame()
        if fmt == "csv":
            df.write_csv(fh)
        elif fmt == "parquet":
            df.write_parquet(fh)
        else:
            raise ValueError(f"unknown format {fmt!r}")
    return n
