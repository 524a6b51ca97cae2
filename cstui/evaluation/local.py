"""Run evaluators over a run and store their verdicts.

Big runs are split into chunks evaluated in worker processes (evaluators are pure functions of a
session and the run context); results stream into one transaction, so an interrupted eval leaves the
previous verdicts current and no partial batch behind.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cstui.config import Config
from cstui.evaluation.worker import evaluate_chunk, evaluate_pool_chunk, init_pool_worker, init_worker
from cstui.evaluators.base import ERROR_LABEL
from cstui.store import Store
from cstui.store.results import VerdictRow, VerdictWriter

PARALLEL_MIN_SESSIONS = 4000
CHUNK = 1000


class SessionsError(Exception):
    """An exported sessions dataset that does not fit the run (a session the run does not hold, no such files)."""


class Cancelled(Exception):
    """The caller asked to stop; nothing of this evaluation was stored."""


@dataclass
class EvalSummary:
    run: str
    batch: str
    evaluators: list[str]
    n_sessions: int = 0
    n_results: int = 0
    seconds: float = 0.0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # evaluator -> passed/failed/not_applicable/errors

    @property
    def failed(self) -> int:
        return sum(c["failed"] for c in self.counts.values())


def outcome(passed: int | bool | None, label: str | None) -> str:
    """Which count a verdict goes to: an evaluator or judge that raised is an error, never a pass or an N/A
    (`"judge_error"` is how files written before one error label called a judge's)."""
    if passed is None:
        return "errors" if label in (ERROR_LABEL, "judge_error") else "not_applicable"
    return "passed" if passed else "failed"


def count_outcomes(rows: Sequence[VerdictRow | tuple[Any, ...]], counts: dict[str, Counter[str]]) -> None:
    """Add verdict rows to per-evaluator counts of passed / failed / not_applicable / errors: the one counting of
    verdicts, for the local pool, Ray and judges (grouped first: a few dozen keys for 21 verdicts a session)."""
    keys = Counter((evaluator, passed, label) for _, evaluator, _, passed, _, label, _, _, _ in rows)
    for (evaluator, passed, label), n in keys.items():
        counts[evaluator][outcome(passed, label)] += n


def parquet_files(directory: Path) -> list[Path]:
    """The Parquet files of an exported sessions dataset (a directory of parts, or one file)."""
    files = sorted(directory.glob("*.parquet")) if directory.is_dir() else [directory]
    if not files or not all(f.is_file() for f in files):
        raise SessionsError(f"{directory}: no Parquet files (write them with `cstui export --what sessions --format "
                            "parquet --out DIR --partitions N`)")
    return files


def sid_mapper(store: Store, run: str) -> Callable[[list[str]], list[int]]:
    """session ids → the run's row ids, failing on a session the run does not hold."""
    def sid_of(session_ids: list[str]) -> list[int]:
        found = store.sid_map(run, session_ids)
        missing = [s for s in session_ids if s not in found]
        if missing:
            raise SessionsError(f"session {missing[0]!r} of the Parquet dataset is not in run {run!r} (export from "
                                "the run you evaluate)")
        return [found[s] for s in session_ids]

    return sid_of


def parquet_chunks(files: Sequence[Path], sid_of: Callable[[list[str]], list[int]],
                   size: int) -> Iterator[list[tuple[int, bytes]]]:
    """Sessions of an exported Parquet dataset in chunks, one partition file in memory at a time, matched to
    the run's rows."""
    import polars as pl

    for path in files:
        frame = pl.read_parquet(path, columns=["session_id", "document"])
        for start in range(0, frame.height, size):
            part = frame.slice(start, size)
            ids = [str(s) for s in part["session_id"].to_list()]
            yield list(zip(sid_of(ids), (d.encode() for d in part["document"].to_list()), strict=True))


def count_parquet_sessions(files: Sequence[Path]) -> int:
    import polars as pl

    return int(pl.scan_parquet(files).select(pl.len()).collect().item())


@dataclass(frozen=True)
class Engine:
    """Where deterministic evaluators run: a local process pool (`processes`; None picks by run size) or a Ray
    cluster (`kind="ray"`, at `address`, or a local one with `num_cpus`), in chunks of `chunk_size` sessions."""

    kind: str = "local"
    processes: int | None = None
    address: str | None = None
    num_cpus: int | None = None
    chunk_size: int = CHUNK


@dataclass(frozen=True)
class Request:
    """One evaluation, as `cstui.evaluation.run` resolved it: the run (checked to exist once, there), the
    deterministic evaluators, the sessions (row ids; None: every session of the run), the configuration and the
    batch the verdicts are written under; `sessions_dir` reads the sessions from an exported Parquet dataset."""

    run: str
    evaluators: tuple[str, ...]
    cfg: Config
    batch: str
    sids: tuple[int, ...] | None = None
    engine: Engine = Engine()
    sessions_dir: Path | None = None


def run_evaluators(store: Store, request: Request, write: VerdictWriter, *,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> EvalSummary:
    """Deterministic evaluators over a run (or some of its sessions), into `write` (the evaluation's one batch).
    Use `cstui.evaluation.run` from above."""
    from cstui import plugins

    run, cfg, ids, sids, engine = request.run, request.cfg, list(request.evaluators), request.sids, request.engine
    chunk_size = engine.chunk_size
    summary = EvalSummary(run=run, batch=request.batch, evaluators=ids,
                          counts={e: {"passed": 0, "failed": 0, "not_applicable": 0, "errors": 0} for e in ids})
    started = time.perf_counter()
    kb_docs = store.kb_docs(run)
    files = parquet_files(Path(request.sessions_dir)) if request.sessions_dir is not None else []
    if files:
        total = count_parquet_sessions(files)
        chunks: Any = parquet_chunks(files, sid_mapper(store, run), chunk_size)
    else:
        all_sids = list(sids) if sids is not None else store.run_sids(run)
        total = len(all_sids)
        chunks = store.session_json_chunks(all_sids, chunk_size)
    processes = engine.processes
    if processes is None:
        processes = min(os.cpu_count() or 1, 4) if total >= PARALLEL_MIN_SESSIONS else 1

    specs = plugins.loaded_specs()

    def results_stream():
        if engine.kind == "ray":
            from cstui.evaluation.ray_engine import stream_chunks, stream_parquet

            options = {"cfg": cfg, "kb_docs": kb_docs, "evaluator_ids": ids, "plugin_specs": specs,
                       "address": engine.address, "num_cpus": engine.num_cpus}
            if files:
                yield from stream_parquet(Path(request.sessions_dir), sid_mapper(store, run),  # type: ignore[arg-type]
                                          batch_size=chunk_size, **options)
            else:
                yield from stream_chunks(chunks, **options)
        elif processes <= 1:
            init_worker(cfg, kb_docs, ids, specs)
            for chunk in chunks:
                yield len(chunk), evaluate_chunk(chunk)
        else:
            with ProcessPoolExecutor(processes, initializer=init_pool_worker,
                                     initargs=(os.getpid(), cfg, kb_docs, ids, specs)) as pool:
                pending = []
                for chunk in chunks:
                    pending.append((len(chunk), pool.submit(evaluate_pool_chunk, chunk)))
                    if len(pending) > processes * 2:
                        n, fut = pending.pop(0)
                        yield n, fut.result()
                for n, fut in pending:
                    yield n, fut.result()

    def consume(write: VerdictWriter) -> None:
        if sids is None and not files:
            write.supersede(ids)  # each evaluator gives every session of the run a verdict: all earlier ones go
        done = 0
        for n, rows in results_stream():
            if cancelled and cancelled():
                raise Cancelled
            write(rows)
            count_outcomes(rows, summary.counts)
            summary.n_results += len(rows)
            done += n
            if progress:
                progress(done, total)

    consume(write)
    summary.n_sessions = total
    summary.seconds = time.perf_counter() - started
    return summary
