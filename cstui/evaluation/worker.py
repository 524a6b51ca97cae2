"""The one evaluation worker, used by the local process pool (`cstui.evaluation.local`) and by Ray (`cstui.evaluation.ray_engine`):
a process is set up once with the run's context and evaluators, then turns chunks of serialized sessions into
verdict rows (cheap to pickle back)."""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import orjson

from cstui.config import Config
from cstui.store.results import VerdictRow, verdict_row

# Worker-side state, set once per process by init_worker.
_CTX = None
_EVALUATORS: list = []


def init_worker(cfg: Config, kb_docs: list[bytes], evaluator_ids: list[str], plugin_specs: list[str]) -> None:
    global _CTX, _EVALUATORS
    from cstui import plugins
    from cstui.evaluators import registry
    from cstui.evaluators.base import KBIndex, RunContext
    from cstui.models import KBArticle

    plugins.load(plugin_specs)  # a spawned worker starts without the parent's plug-ins

    _CTX = RunContext(cfg=cfg, kb=KBIndex.build([KBArticle.model_validate(orjson.loads(d)) for d in kb_docs]))
    if cfg.policy:  # declared policies live in the config, so worker processes register them too
        registry.register_policies(cfg.policy)
    _EVALUATORS = [registry.get(i) for i in evaluator_ids]


def init_pool_worker(parent: int, *args: Any) -> None:
    """`init_worker` for a pool process, which then collects garbage itself: automatic collections of a forked
    worker walk the heap it shares with its parent (copying those pages) though the evaluators make almost no
    reference cycles (a few per cent of the workers' time). It exits when its parent dies."""
    exit_with_parent(parent)
    init_worker(*args)
    gc.disable()


def exit_with_parent(parent: int, every: float = 0.5) -> None:
    """End this process soon after `parent` is gone (a SIGKILLed `cstui eval` would otherwise leave its pool
    workers blocked on a queue nobody reads, holding the database open)."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="cstui-parent-watch", daemon=True).start()


def evaluate_pool_chunk(chunk: list[tuple[int, bytes]]) -> list[tuple[Any, ...]]:
    """`evaluate_chunk` in a pool process: the rows go back as plain tuples in `VerdictRow`'s layout."""
    rows = [tuple(row) for row in evaluate_chunk(chunk)]
    gc.collect(0)  # what the chunk allocated and still cycles (a plug-in's, an error's traceback); cheap
    return rows


def evaluate_chunk(chunk: list[tuple[int, bytes]]) -> list[VerdictRow]:
    """Evaluate serialized sessions into verdict rows."""
    from cstui.models import Session

    out = []
    for sid, doc in chunk:
        session = Session.model_validate_json(doc)
        for ev in _EVALUATORS:
            out.append(verdict_row(sid, ev.id, ev.version, ev.evaluate(session, _CTX)))
    return out
