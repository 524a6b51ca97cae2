"""Run every benchmark on 100k sessions (~1M spans), then the scale budgets at 1M sessions, and print one table
of figures against budgets.

    python bench/run_all.py            # or: make bench
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPTS = ["bench_import.py", "bench_serve.py", "bench_eval.py", "bench_metrics.py", "bench_tui.py", "bench_judge.py", "bench_misc.py",
           "bench_validity.py", "bench_ray.py", "bench_scale.py"]


def main() -> int:
    here = Path(__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "rows.jsonl"
        env = {**os.environ, "CSTUI_BENCH_JSON": str(rows_file)}
        for script in SCRIPTS:
            print(f"\n$ python bench/{script}", flush=True)
            subprocess.run([sys.executable, str(here / script)], env=env, check=False)
        rows = [json.loads(line) for line in rows_file.read_text().splitlines()] if rows_file.exists() else []
    print("\n| measure | figure | budget | status | detail |\n|---|---|---|---|---|")
    for r in rows:
        value = f"{r['value']:.2f} {r['unit']}" if isinstance(r["value"], float) else f"{r['value']} {r['unit']}"
        status = "—" if r["ok"] is None else "OK" if r["ok"] else "MISSED"
        print(f"| {r['name']} | {value} | {r['budget']} | {status} | {r['note']} |")
    return 0 if all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
