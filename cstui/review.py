"""Review queues: a random, stratified, reproducible sample of a run's sessions for reviewers to label.

Agreement measured only on triaged failures is biased (reviewers see what a judge flagged); a queue
drawn at random per stratum gives the unbiased sample κ needs. The same run, size, strata and seed
always give the same queue.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from cstui.vocab import STRATA

if TYPE_CHECKING:
    from cstui.store import Store


def allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Proportional allocation by largest remainder, never more than a stratum holds."""
    population = sum(sizes.values())
    if population == 0:
        return {k: 0 for k in sizes}
    total = min(total, population)
    exact = {k: total * n / population for k, n in sizes.items()}
    alloc = {k: min(int(v), sizes[k]) for k, v in exact.items()}
    for k in sorted(sizes, key=lambda k: (-(exact[k] - int(exact[k])), k)):
        if sum(alloc.values()) >= total:
            break
        if alloc[k] < sizes[k]:
            alloc[k] += 1
    while sum(alloc.values()) < total:  # rounding met a full stratum: fill from the others
        k = max((k for k in sizes if alloc[k] < sizes[k]), key=lambda k: sizes[k] - alloc[k])
        alloc[k] += 1
    return alloc


def sample_queue(store: Store, run: str, size: int, seed: int, stratify: str | None) -> list[tuple[str, str | None]]:
    sessions = store.sessions_frame(run)
    if stratify is not None and stratify not in STRATA:
        raise ValueError(f"--stratify must be one of {', '.join(STRATA)}")
    groups: dict[str, list[str]] = {}
    keys = sessions[stratify].to_list() if stratify else [None] * sessions.height
    for session_id, key in zip(sessions["session_id"].to_list(), keys, strict=True):
        groups.setdefault("—" if key is None else str(key), []).append(session_id)
    rng = random.Random(seed)
    alloc = allocate({k: len(v) for k, v in groups.items()}, size)
    items: list[tuple[str, str | None]] = []
    for key in sorted(groups):
        chosen = rng.sample(sorted(groups[key]), alloc[key])
        items.extend((sid, key if stratify else None) for sid in chosen)
    rng.shuffle(items)  # reviewers should not see the strata in blocks
    return items


def build_queue(store: Store, run: str, size: int, seed: int, stratify: str | None, name: str | None = None) -> str:
    store.run(run)
    items = sample_queue(store, run, size, seed, stratify)
    name = name or f"{run}-review-{seed}"
    store.create_review_queue(name, run, seed, stratify, items)
    return name
