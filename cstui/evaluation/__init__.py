"""One way to evaluate: `run(...)` splits the chosen evaluators by kind, runs the deterministic ones in the
process pool and the LLM judges through the judge client, and stores every verdict as one batch.

The CLI (`cstui eval`, `cstui validate`), the TUI's rerun dialog and the tests call only this. A judge run is
done before the results transaction opens (it may take minutes of network calls, and a reviewer relabelling
meanwhile must not wait on it); its verdicts then go into the same batch as the deterministic ones. Cancelling
or any error leaves nothing of the batch stored.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstui.evaluation.local import CHUNK, Cancelled, Engine, EvalSummary, Request, run_evaluators

if TYPE_CHECKING:
    from cstui.config import Config
    from cstui.evaluation.judges import JudgeSummary
    from cstui.judge import JudgeSettings
    from cstui.store import Store

__all__ = ["Cancelled", "Evaluation", "EvaluationError", "Progress", "resolve", "run", "split"]

# progress(stage, done, total, note): stage is "evaluators" or "judges"; note says what the judges cost so far.
Progress = Callable[[str, int, int, str], None]


class EvaluationError(Exception):
    """The request cannot run as asked (an unknown evaluator, judges without a model); nothing was stored."""


@dataclass
class Evaluation(EvalSummary):
    """What one `run` did: the deterministic counts with the judges' beside them, in one batch."""

    judges: JudgeSummary | None = None  # calls, cache hits, tokens and cost when judges ran


def resolve(names: Sequence[str] | None, kind: str | None = "deterministic") -> list[str]:
    """The evaluator ids to run: the given ones (checked), else every evaluator of `kind`."""
    from cstui.evaluators import registry

    if not names:
        return [ev.id for ev in registry.all_evaluators(kind)]
    try:
        for name in names:
            registry.get(name)
    except KeyError as exc:
        raise EvaluationError(exc.args[0]) from None
    return list(dict.fromkeys(names))


def split(evaluator_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """(deterministic ids, judge ids)."""
    from cstui.evaluators import registry

    judges = [i for i in evaluator_ids if registry.get(i).kind == "judge"]
    return [i for i in evaluator_ids if i not in judges], judges


def run(store: Store, run: str, evaluator_ids: Sequence[str], session_ids: Sequence[str] | None = None, *,
        cfg: Config | None = None, judge: JudgeSettings | None = None, strategy: str = "direct",
        processes: int | None = None, progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
        chunk_size: int | None = None, engine: str = "local", address: str | None = None,
        num_cpus: int | None = None, sessions_dir: Path | None = None) -> Evaluation:
    """Evaluate `run` (or the given sessions of it) with the given evaluators; raises `Cancelled` when `cancel()`
    turns true, `EvaluationError` for a request that cannot run, `cstui.judge.JudgeError` when a judge run fails."""
    from cstui.config import load_config
    from cstui.evaluation.judges import run_judges

    cfg = cfg or load_config()  # as the CLI does: the library and `cstui eval` read the same cstui.toml
    ids = resolve(evaluator_ids)
    deterministic, judges = split(ids)
    if judges and judge is None:
        raise EvaluationError(f"{', '.join(judges)}: LLM judges need a judge model (--judge-model, judge_model in "
                              "cstui.toml or CSTUI_JUDGE_MODEL)")
    if sessions_dir is not None and (session_ids is not None or judges):
        raise EvaluationError("an exported sessions dataset is read by deterministic evaluators only, over the "
                              "whole dataset (judge a run from the database)")
    store.run(run)
    sids = store.sids_for(run, list(session_ids)) if session_ids is not None else None
    started = time.perf_counter()
    result = Evaluation(run=run, batch=uuid.uuid4().hex[:12], evaluators=ids)

    if judges:
        assert judge is not None

        def judge_progress(done: int, total: int, client: Any) -> None:
            if progress:
                progress("judges", done, total, f"{client.calls:,} calls · {client.cache_hits:,} cached · "
                                                f"${client.cost_usd:.4f}")

        result.judges = run_judges(store, Request(run, tuple(judges), cfg, result.batch,
                                                  sids=None if sids is None else tuple(sids)),
                                   judge, strategy=strategy, progress=judge_progress, cancelled=cancel)
    with store.results_writer(run, batch=result.batch) as write:
        if deterministic:
            request = Request(run, tuple(deterministic), cfg, result.batch,
                              sids=None if sids is None else tuple(sids), sessions_dir=sessions_dir,
                              engine=Engine(engine, processes, address, num_cpus, chunk_size or CHUNK))
            summary = run_evaluators(
                store, request, write, cancelled=cancel,
                progress=(lambda done, total: progress("evaluators", done, total, "")) if progress else None)
            result.counts.update(summary.counts)
            result.n_results += summary.n_results
            result.n_sessions = summary.n_sessions
        if result.judges is not None:
            if cancel and cancel():
                raise Cancelled
            write(result.judges.rows, result.judges.source)
            result.counts.update(result.judges.counts)
            result.n_results += result.judges.n_results
            result.n_sessions = max(result.n_sessions, result.judges.n_sessions)
    result.seconds = time.perf_counter() - started
    return result
