"""Run LLM judges over a run's sessions: async with bounded concurrency, progress, cancel; verdicts are
stored as one new batch at the end (an aborted run leaves the previous verdicts current, while the
completion cache keeps every answer already paid for)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cstui.evaluators.base import ERROR_LABEL
from cstui.judge import JudgeAuthError, JudgeClient, JudgeError, JudgeSettings, JudgeUnreachable
from cstui.store import Store, VerdictRow, verdict_row

if TYPE_CHECKING:
    from cstui.evaluation.local import Request

CHUNK = 200


@dataclass
class JudgeSummary:
    run: str
    batch: str
    evaluators: list[str]
    strategy: str
    n_sessions: int = 0
    n_results: int = 0
    calls: int = 0
    cache_hits: int = 0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # evaluator -> passed/failed/na/errors
    rows: list[VerdictRow] = field(default_factory=list, repr=False)  # for a caller that writes them
    source: str = ""


def run_judges(
    store: Store, request: Request, settings: JudgeSettings, *, strategy: str = "direct",
    progress: Callable[[int, int, JudgeClient], None] | None = None, cancelled: Callable[[], bool] | None = None,
) -> JudgeSummary:
    """The LLM judges of `request` (its `evaluators`; the run known to exist: `cstui.evaluation.run` checked it).
    The verdicts stay in `summary.rows` for the caller to write in the request's batch (one batch for deterministic
    evaluators and judges)."""
    from cstui.evaluation.local import Cancelled, count_outcomes
    from cstui.evaluators import registry
    from cstui.evaluators.base import KBIndex, RunContext, Verdict
    from cstui.evaluators.judges import JudgeEvaluator
    from cstui.models import Session
    from cstui.vocab import JUDGE_STRATEGIES as STRATEGIES

    if strategy not in STRATEGIES:
        raise JudgeError(f"unknown strategy {strategy!r} (choose {', '.join(STRATEGIES)})")
    run, sids = request.run, request.sids
    judges = [registry.get(i) for i in request.evaluators]
    for judge in judges:
        if not isinstance(judge, JudgeEvaluator):
            raise JudgeError(f"{judge.id} is not an LLM judge")
    ctx = RunContext(cfg=request.cfg, kb=KBIndex.build(store.kb_articles(run)))
    all_sids = list(sids) if sids is not None else store.run_sids(run)
    summary = JudgeSummary(run=run, batch=request.batch, evaluators=[j.id for j in judges],
                           strategy=strategy,
                           counts={j.id: {"passed": 0, "failed": 0, "not_applicable": 0, "errors": 0} for j in judges})
    client = JudgeClient(settings, store)
    started = time.perf_counter()
    rows: list[VerdictRow] = []

    async def judge_one(sid: int, session: Session, judge: JudgeEvaluator) -> VerdictRow:
        try:
            verdict = await judge.judge(client, session, ctx, strategy)
        except (JudgeAuthError, JudgeUnreachable):
            raise
        except JudgeError as exc:  # this session only: recorded as an error, never as a pass
            verdict = Verdict(None, f"judge error: {exc}", label=ERROR_LABEL)
        return verdict_row(sid, judge.id, judge.version, verdict)

    async def main() -> None:
        done = 0
        for chunk in store.session_json_chunks(all_sids, CHUNK):
            if cancelled and cancelled():
                raise Cancelled
            tasks = [judge_one(sid, Session.model_validate_json(doc), judge)
                     for sid, doc in chunk for judge in judges]
            rows.extend(await asyncio.gather(*tasks))
            done += len(chunk)
            if progress:
                progress(done, len(all_sids), client)

    asyncio.run(main())
    summary.rows = rows
    summary.source = f"judge:{settings.model}"
    count_outcomes(rows, summary.counts)
    summary.n_sessions = len(all_sids)
    summary.n_results = len(rows)
    summary.calls, summary.cache_hits = client.calls, client.cache_hits
    summary.cost_usd = client.cost_usd
    summary.prompt_tokens, summary.completion_tokens = client.prompt_tokens, client.completion_tokens
    summary.seconds = time.perf_counter() - started
    return summary
