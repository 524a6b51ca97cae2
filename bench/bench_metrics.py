"""Report metrics (everything `cstui report --json` computes) over 100k sessions x all deterministic
evaluators; budget 0.5 s. Prints the figure without columnar snapshots (the first report after an import
or eval; `cstui eval` builds them when it checks drift) and the median of 5 repeats with them.

    python bench/bench_metrics.py [--n 100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_sessions import cached_bench_db  # noqa: E402
from table import record  # noqa: E402

from cstui.metrics import build_report  # noqa: E402
from cstui.store import Store  # noqa: E402

BUDGET = 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    db = cached_bench_db(args.n)
    with Store(db) as store:
        store.conn.execute("DELETE FROM frame_cache")
        t0 = time.perf_counter()
        report = build_report(store, "bench")
        cold = time.perf_counter() - t0
        repeats = []
        for _ in range(5):
            t0 = time.perf_counter()
            build_report(store, "bench")
            repeats.append(time.perf_counter() - t0)
    n_results = sum(e.n + e.n_not_applicable for e in report.evaluators.values())
    warm = statistics.median(repeats)
    print(f"metrics: {report['n_sessions']:,} sessions x {len(report['evaluators'])} evaluators "
          f"({n_results:,} verdicts)")
    print(f"  without snapshots      {cold:7.3f} s  (rows read from SQLite, snapshots written)")
    print(f"  with snapshots         {warm:7.3f} s  (median of 5)")
    print(f"  budget                 {BUDGET:7.3f} s  {'OK' if warm <= BUDGET else 'MISSED'} (ratio {warm / BUDGET:.2f})")
    record("dashboard / report metrics", warm, "s", "<= 0.5", warm <= BUDGET, f"{cold:.2f} s without snapshots")


if __name__ == "__main__":
    main()
