"""Write N synthetic native sessions (default 100k, ~10 spans each) for benchmarks.

    python bench/gen_sessions.py OUT.jsonl [--n 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from cstui.store import Store

INTENTS = ["faq_billing", "order_status", "refund_request", "plan_downgrade", "billing_dispute", "hardship"]
TOOLS = [("get_order_status", False), ("issue_refund", True), ("change_plan", True), ("transfer_to_agent", True)]


def session(i: int, rng: random.Random) -> dict:
    intent = rng.choice(INTENTS)
    n_turns = rng.choice([2, 4, 6, 8])
    turns = []
    for t in range(n_turns):
        if t % 2 == 0:
            turns.append({"role": "customer", "text": f"Customer message {t} about {intent} order A-{rng.randrange(10**5)}"})
        else:
            turns.append({"role": "assistant", "text": f"Assistant reply {t}: refunds take 5-7 business days.",
                          "confidence": round(rng.random(), 2), "citations": ["KB-2201"]})
    spans = []
    for k in range(10):
        turn_index = min(n_turns - 1, 1 + 2 * (k // 4))
        kind = ["response", "intent", "retrieval", "tool", "llm"][k % 5]
        span = {"span_id": f"{i}-{k}", "parent_id": f"{i}-0" if k else None, "kind": kind, "name": kind,
                "turn_index": turn_index, "status": "ok" if rng.random() > 0.05 else "error", "attributes": {}}
        if kind == "tool":
            name, effect = rng.choice(TOOLS)
            span.update(name=name, attributes={"arguments": {"order_id": f"A-{i}"}, "result": "ok", "side_effect": effect})
        elif kind == "retrieval":
            span["attributes"] = {"documents": [{"id": "KB-2201", "revision": 3, "score": 0.8,
                                                 "content": "Refunds within 30 days; 5-7 business days."}]}
        spans.append(span)
    channel = rng.choice(["chat", "email", "voice"])
    if channel == "email":  # draft-assist: the agent's decision on the last draft and what was sent
        last = max(j for j, t in enumerate(turns) if t["role"] == "assistant")
        decision = rng.choice(["accepted", "accepted", "accepted", "edited", "rejected"])
        turns[last]["draft"] = {"decision": decision, "latency_ms": rng.randint(800, 7000),
                                "cost_usd": round(rng.uniform(0.005, 0.06), 4)}
        if decision != "rejected":
            sent = turns[last]["text"] + ("" if decision == "accepted" else " Kind regards, Sam")
            turns.insert(last + 1, {"role": "agent", "text": sent})
    return {"schema": "cstui.session/v1", "session_id": f"B-{i:07d}", "intent": intent, "channel": channel,
            "category": "routine", "started_at": f"2026-10-{1 + i % 28:02d}T09:00:00Z",
            "turns": turns, "spans": spans,
            "outcome": {"correct": rng.random() > 0.2, "escalated": intent in ("billing_dispute", "hardship")}}


def cached_bench_db(n: int) -> Path:
    """A DB with n generated sessions imported and evaluated, built once under bench/out/ and reused."""
    from cstui import evaluation
    from cstui.ingest import import_files
    from cstui.store import Store

    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    db = out / f"bench-{n}.db"
    if db.exists():
        return db
    src = out / f"sessions-{n}.jsonl"
    generate(src, n)
    tmp = db.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    with Store(tmp) as store:
        import_files(store, [src], "bench")
        evaluation.run(store, "bench", evaluation.resolve(None))
    src.unlink()
    tmp.rename(db)
    return db


@contextmanager
def generated_run(n: int, run: str = "bench") -> Iterator[Store]:
    """A temporary database holding `n` generated sessions imported as `run` (removed afterwards)."""
    from cstui.ingest import import_files
    from cstui.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "sessions.jsonl"
        generate(src, n)
        with Store(Path(tmp) / "bench.db") as store:
            import_files(store, [src], run)
            yield store


def generate(out: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with out.open("wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps(session(i, rng)) + b"\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    generate(a.out, a.n, a.seed)
