"""Run evaluators over a run and store their verdicts.

Big runs are split into chunks evaluated in worker processes (evaluators are pure functions of a
session and the run context); results stream into one transaction, so an interrupted eval leaves the
previous verdicts current and no partial batch behind.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import orjson

from cstui.config import Config
from cstui.store import Store

PARALLEL_MIN_SESSIONS = 4000
CHUNK = 1000


@dataclass
class EvalSummary:
    run: str
    batch: str
    evaluators: list[str]
    n_sessions: int = 0
    n_results: int = 0
    seconds: float = 0.0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # evaluator -> passed/failed/na


def resolve_evaluators(names: Sequence[str] | None, kind: str | None = "deterministic") -> list[str]:
    from cstui.evaluators import registry

    if not names:
        return [ev.id for ev in registry.all_evaluators(kind)]
    for name in names:
        registry.get(name)  # raises KeyError naming the known ids
    return list(names)


# Worker-side state, set once per process by _init_worker.
_CTX = None
_EVALUATORS: list = []


def _init_worker(cfg: Config, kb_docs: list[bytes], evaluator_ids: list[str]) -> None:
    global _CTX, _EVALUATORS
    from cstui.evaluators import registry
    from cstui.evaluators.base import KBIndex, RunContext
    from cstui.models import KBArticle

    _CTX = RunContext(cfg=cfg, kb=KBIndex.build([KBArticle.model_validate(orjson.loads(d)) for d in kb_docs]))
    if cfg.policy:  # declared policies live in the config, so worker processes register them too
        registry.register_policies(cfg.policy)
    _EVALUATORS = [registry.get(i) for i in evaluator_ids]


def _evaluate_chunk(chunk: list[tuple[int, bytes]]) -> list[tuple]:
    """Evaluate serialized sessions; results go back as insert-ready rows (cheap to pickle)."""
    from cstui.models import Session
    from cstui.store import result_row

    out = []
    for sid, doc in chunk:
        session = Session.model_validate_json(doc)
        for ev in _EVALUATORS:
            out.append(result_row(sid, ev.evaluate(session, _CTX)))
    return out


def run_evaluators(
    store: Store, run: str, evaluator_ids: Sequence[str], *, cfg: Config | None = None,
    sids: Sequence[int] | None = None, processes: int | None = None,
    progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] | None = None,
    chunk_size: int = CHUNK,
) -> EvalSummary:
    cfg = cfg or Config()
    store.run(run)
    ids = list(evaluator_ids)
    summary = EvalSummary(run=run, batch=uuid.uuid4().hex[:12], evaluators=ids,
                          counts={e: {"passed": 0, "failed": 0, "not_applicable": 0} for e in ids})
    started = time.perf_counter()
    all_sids = list(sids) if sids is not None else [r[0] for r in store.conn.execute(
        "SELECT id FROM sessions WHERE run = ? ORDER BY id", (run,))]
    total = len(all_sids)
    kb_docs = [d for (d,) in store.conn.execute("SELECT doc FROM kb WHERE run = ?", (run,))]
    chunks = store.session_json_chunks(all_sids, chunk_size)
    if processes is None:
        processes = min(os.cpu_count() or 1, 4) if total >= PARALLEL_MIN_SESSIONS else 1

    def results_stream():
        if processes <= 1:
            _init_worker(cfg, kb_docs, ids)
            for chunk in chunks:
                yield len(chunk), _evaluate_chunk(chunk)
        else:
            with ProcessPoolExecutor(processes, initializer=_init_worker, initargs=(cfg, kb_docs, ids)) as pool:
                pending = []
                for chunk in chunks:
                    pending.append((len(chunk), pool.submit(_evaluate_chunk, chunk)))
                    if len(pending) > processes * 2:
                        n, fut = pending.pop(0)
                        yield n, fut.result()
                for n, fut in pending:
                    yield n, fut.result()

    done = 0
    with store.results_writer(run, batch=summary.batch) as write:
        for n, rows in results_stream():
            if cancelled and cancelled():
                raise KeyboardInterrupt
            write(rows)
            for row in rows:
                key = "not_applicable" if row[3] is None else "passed" if row[3] else "failed"
                summary.counts[row[1]][key] += 1
            summary.n_results += len(rows)
            done += n
            if progress:
                progress(done, total)
    summary.n_sessions = total
    summary.seconds = time.perf_counter() - started
    return summary
