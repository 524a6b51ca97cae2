"""Stratified sampling of production traces into an eval slice (a new run), reproducible by seed.

Allocation is by largest remainder: proportional to traffic across the combined `--by` strata, or to
target shares of one field (a launch set is typically routine/edge/adversarial/safety 60/20/10/10).
A stratum with too few sessions gives what it has and the rest is redistributed, so the slice hits
its size and each stratum is within one session of its share whenever the data allow.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cstui.review import STRATA, allocate

if TYPE_CHECKING:
    from cstui.store import Store


def parse_target(text: str) -> tuple[str, dict[str, float]]:
    """"category:routine=0.6,edge=0.2" → ("category", {"routine": 0.6, "edge": 0.2})."""
    field, _, rest = text.partition(":")
    if field not in STRATA or not rest:
        raise ValueError(f"--target must look like FIELD:VALUE=SHARE,... with FIELD one of {', '.join(STRATA)}")
    shares: dict[str, float] = {}
    for part in rest.split(","):
        key, _, value = part.partition("=")
        try:
            shares[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--target: {part!r} is not VALUE=SHARE") from None
    total = sum(shares.values())
    if total <= 0 or any(v < 0 for v in shares.values()):
        raise ValueError("--target shares must be non-negative and not all zero")
    return field, {k: v / total for k, v in shares.items()}


def _target_allocation(sizes: dict[str, int], shares: dict[str, float], total: int) -> dict[str, int]:
    exact = {k: total * shares.get(k, 0.0) for k in sizes}
    alloc = {k: min(int(v), sizes[k]) for k, v in exact.items()}
    order = sorted(sizes, key=lambda k: (-(exact[k] - int(exact[k])), k))
    while sum(alloc.values()) < min(total, sum(sizes.values())):
        grew = False
        for k in order:  # first the largest remainders, then anything with room left
            if sum(alloc.values()) >= total:
                break
            if alloc[k] < sizes[k] and (exact[k] > alloc[k] or not any(
                    alloc[j] < sizes[j] and exact[j] > alloc[j] for j in sizes)):
                alloc[k] += 1
                grew = True
        if not grew:
            break
    return alloc


def sample_run(store: Store, run: str, into: str, size: int, *, seed: int, by: list[str],
               target: tuple[str, dict[str, float]] | None = None) -> dict[str, Any]:
    if size < 1:
        raise ValueError("--size must be at least 1")
    for key in by:
        if key not in STRATA:
            raise ValueError(f"--by: {key!r} is not one of {', '.join(STRATA)}")
    if target and by and by != [target[0]]:
        raise ValueError("--target sets the mix of one field; use it with --by of that field or without --by")
    keys = [target[0]] if target else by
    sessions = store.sessions_frame(run)
    groups: dict[str, list[str]] = {}
    columns = [sessions[k].to_list() for k in keys]
    for i, session_id in enumerate(sessions["session_id"].to_list()):
        label = " / ".join("—" if c[i] is None else str(c[i]) for c in columns) or "all"
        groups.setdefault(label, []).append(session_id)
    sizes = {k: len(v) for k, v in groups.items()}
    alloc = _target_allocation(sizes, target[1], size) if target else allocate(sizes, size)
    rng = random.Random(seed)
    chosen: set[str] = set()
    for label in sorted(groups):
        chosen.update(rng.sample(sorted(groups[label]), alloc[label]))
    info = store.run(run)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{into}.jsonl"
        with path.open("wb") as fh:
            for doc in store.iter_session_docs(run):
                if doc["session_id"] in chosen:
                    fh.write(orjson.dumps(doc) + b"\n")
        from cstui.config import load_config
        from cstui.ingest import import_files

        import_files(store, [path], into, cfg=load_config(), system=info.get("system"))
        store.copy_kb(run, into)
    composition = {label: {"n": alloc[label], "share": alloc[label] / max(len(chosen), 1),
                           "target": target[1].get(label) if target else None, "available": sizes[label]}
                   for label in sorted(groups)}
    store.set_run_metadata(into, {"sample": {"from": run, "seed": seed, "by": keys, "size": size,
                                             "target": target[1] if target else None, "field": keys}})
    return {"n": len(chosen), "composition": composition}
