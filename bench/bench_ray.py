"""The Ray engine against the local process pool on the same cores and the same generated sessions.

    python bench/bench_ray.py [--n 100000] [--num-cpus 2]

Target: Ray within 1.5x the local time (docs/scale.md). Skipped, with a note, when Ray is not installed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_sessions import generated_run  # noqa: E402
from table import record  # noqa: E402

from cstui import evaluation, ray_engine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if not ray_engine.available():
        print("ray: not installed (pip install 'cstui[ray]'); skipped")
        return
    import ray

    with generated_run(args.n) as store:
        ids = evaluation.resolve(None)
        t0 = time.perf_counter()
        evaluation.run(store, "bench", ids, processes=args.num_cpus)
        local = time.perf_counter() - t0
        t0 = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        started = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluation.run(store, "bench", ids, engine="ray", num_cpus=args.num_cpus)
        on_ray = time.perf_counter() - t0
        ray.shutdown()
    ratio = on_ray / local
    print(f"ray engine: {len(ids)} deterministic evaluators x {args.n:,} sessions on {args.num_cpus} CPUs")
    print(f"  local process pool     {local:7.2f} s")
    print(f"  ray (instance ready)   {on_ray:7.2f} s  ({ratio:.2f}x local; starting Ray took {started:.1f} s more)")
    print(f"  target                 ≤ 1.50x  {'OK' if ratio <= 1.5 else 'MISSED'}")
    record("ray engine vs local pool, same cores", round(ratio, 2), "x", "≤ 1.5x", ratio <= 1.5,
           f"{args.n:,} sessions, {args.num_cpus} CPUs")


if __name__ == "__main__":
    main()
