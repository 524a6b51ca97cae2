"""All deterministic evaluators over N generated sessions (default 100k); budget 60 s on 2 cores.

    python bench/bench_eval.py [--n 100000] [--processes N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_sessions import generated_run  # noqa: E402
from table import record  # noqa: E402

from cstui import evaluation  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--processes", type=int, default=None)
    args = ap.parse_args()
    with generated_run(args.n) as store:
        ids = evaluation.resolve(None)
        t0 = time.perf_counter()
        summary = evaluation.run(store, "bench", ids, processes=args.processes)
        elapsed = time.perf_counter() - t0
    print(f"eval: {len(ids)} deterministic evaluators x {summary.n_sessions:,} sessions = {summary.n_results:,} results")
    print(f"  wall time              {elapsed:7.2f} s  ({summary.n_sessions / elapsed:,.0f} sessions/s)")
    print(f"  budget                 {60:7.2f} s  {'OK' if elapsed <= 60 else 'MISSED'}")
    record("all deterministic evaluators", elapsed, "s", "<= 60", elapsed <= 60,
           f"{len(ids)} evaluators x {summary.n_sessions:,} sessions")


if __name__ == "__main__":
    main()
