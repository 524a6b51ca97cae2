"""The Ray engine: the same deterministic evaluators, plug-ins included, on a Ray cluster (docs/scale.md).

Installed with `pip install 'cstui[ray]'`; nothing here imports Ray until an evaluation asks for it. Sessions
from the store go to a pool of actors in chunks (at most two chunks in flight per actor, so memory stays
flat); sessions in a Parquet dataset (`cstui export --what sessions --format parquet --partitions N`) are read
by the cluster itself through Ray Data `read_parquet` + `map_batches`. Either way the verdicts stream back to
this process, which writes them as one batch: a run stopped half-way leaves nothing behind. LLM judges do
not run here: they stay on the driver, behind its one concurrency limit and its cache.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from cstui.config import Config
from cstui.store.results import VerdictRow

Rows = list[VerdictRow]


class RayEngineError(Exception):
    """Ray is missing or the cluster cannot be reached: one line for the user, nothing stored."""


def available() -> bool:
    return importlib.util.find_spec("ray") is not None


class RayWorker:
    """One worker's evaluators, run context and plug-ins, built once; used as a Ray actor and as the Ray Data
    callable class."""

    def __init__(self, cfg: Config, kb_docs: list[bytes], evaluator_ids: list[str], plugin_specs: list[str]) -> None:
        from cstui.evaluation.worker import init_worker

        init_worker(cfg, kb_docs, evaluator_ids, plugin_specs)

    def chunk(self, chunk: list[tuple[int, bytes]]) -> Rows:
        from cstui.evaluation.worker import evaluate_chunk

        return evaluate_chunk(chunk)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        """A Ray Data batch of exported sessions (session_id, document) → one encoded verdict row per evaluator."""
        from cstui.evaluation.worker import evaluate_chunk

        ids = [str(s) for s in batch["session_id"]]
        docs = [d if isinstance(d, bytes) else str(d).encode() for d in batch["document"]]
        rows = evaluate_chunk(list(enumerate(docs)))
        return {"session_id": [ids[row.sid] for row in rows],
                "row": [orjson.dumps(tuple(row._replace(sid=0))) for row in rows]}  # the id goes beside


def _connect(address: str | None, num_cpus: int | None) -> bool:
    """Join the cluster at `address`, or start a local one; True when this call connected (and so must disconnect:
    `ray.shutdown()` stops a local instance and only leaves a cluster it joined)."""
    if not available():
        raise RayEngineError("the Ray engine needs Ray: pip install 'cstui[ray]'")
    import ray

    started = not ray.is_initialized()
    if started:
        _start(address, num_cpus)
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):  # the CLI draws its own progress; Ray's INFO lines would interleave with it
        logging.getLogger(name).setLevel(logging.ERROR)
    # a small dataset gives the actor pool fewer blocks than actors: expected, not worth a warning
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
    return started


def _start(address: str | None, num_cpus: int | None) -> None:
    import ray

    try:
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayEngineError(f"cannot reach the Ray cluster at {address or 'a new local instance'}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _workers(num_cpus: int | None) -> int:
    import ray

    return max(1, int(num_cpus or ray.available_resources().get("CPU", 1)))


def stream_chunks(chunks: Iterable[list[tuple[int, bytes]]], *, cfg: Config, kb_docs: list[bytes],
                  evaluator_ids: Sequence[str], plugin_specs: Sequence[str], address: str | None = None,
                  num_cpus: int | None = None) -> Iterator[tuple[int, Rows]]:
    """(sessions, verdict rows) per chunk of store sessions, evaluated by a pool of actors."""
    started = _connect(address, num_cpus)
    import ray

    actor_class = ray.remote(num_cpus=1)(RayWorker)
    actors = [actor_class.remote(cfg, kb_docs, list(evaluator_ids), list(plugin_specs))
              for _ in range(_workers(num_cpus))]
    in_flight: dict[Any, tuple[Any, int]] = {}
    idle = actors * 2  # two chunks queued per actor keep it busy while the driver writes
    try:
        for chunk in chunks:
            if not idle:
                (ref,), _ = ray.wait(list(in_flight), num_returns=1)
                actor, n = in_flight.pop(ref)
                idle.append(actor)
                yield n, ray.get(ref)
            actor = idle.pop()
            in_flight[actor.chunk.remote(chunk)] = (actor, len(chunk))
        while in_flight:
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            _, n = in_flight.pop(ref)
            yield n, ray.get(ref)
    finally:  # cancelled or failed: stop the workers; a cluster we only joined keeps running
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


def stream_parquet(directory: Path, sid_of: Callable[[list[str]], list[int]], *, cfg: Config, kb_docs: list[bytes],
                   evaluator_ids: Sequence[str], plugin_specs: Sequence[str], address: str | None = None,
                   num_cpus: int | None = None, batch_size: int = 1000) -> Iterator[tuple[int, Rows]]:
    """(sessions, verdict rows) per batch of an exported Parquet dataset, read and evaluated on the cluster;
    `sid_of` maps session ids to the run's row ids (raising for a session the run does not hold)."""
    started = _connect(address, num_cpus)
    import ray.data

    try:
        workers = _workers(num_cpus)
        # Each evaluator actor reserves half a CPU and each read a tenth: with whole CPUs reserved by the actors,
        # Ray Data's scheduler has nothing left to feed them and the run stalls (seen with 2 actors on 2 CPUs).
        with warnings.catch_warnings():  # deprecation notes about Ray's own arguments, not the user's business
            warnings.simplefilter("ignore")
            dataset = ray.data.read_parquet(str(directory), columns=["session_id", "document"], num_cpus=0.1,
                                            override_num_blocks=workers * 4)
            verdicts = dataset.map_batches(
                RayWorker, fn_constructor_args=(cfg, kb_docs, list(evaluator_ids), list(plugin_specs)),
                batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=0.5,
                max_restarts=0, batch_format="numpy")
        per_session = max(1, len(evaluator_ids))
        for batch in verdicts.iter_batches(batch_size=batch_size * per_session, batch_format="numpy"):
            session_ids = [str(s) for s in batch["session_id"]]
            unique = list(dict.fromkeys(session_ids))
            sids = dict(zip(unique, sid_of(unique), strict=True))
            rows = [VerdictRow(*orjson.loads(r))._replace(sid=sids[s])
                    for s, r in zip(session_ids, batch["row"], strict=True)]
            yield len(rows) // per_session, rows
    finally:
        if started:
            ray.shutdown()
