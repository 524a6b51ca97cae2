"""The remaining budgets: `cstui --help` against `python -c pass` (<= 2x), the span tree of a 2,000-span
session in the TUI, and peak RSS of import, eval and report at 100k sessions (<= 400 MB).

    python bench/bench_misc.py [--n 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_sessions import cached_bench_db, generate  # noqa: E402
from table import record  # noqa: E402

RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def wall(cmd: list[str], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_mb(cmd: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", RSS, *cmd], check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def span_tree_seconds(tmp: Path) -> float:
    spans = [{"span_id": "root", "kind": "response", "name": "respond", "turn_index": 1, "status": "ok"}]
    for i in range(1, 2000):
        parent = "root" if i < 50 else f"s{(i % 49) + 1}"
        spans.append({"span_id": f"s{i}", "parent_id": parent, "kind": "tool" if i % 3 else "llm",
                      "name": f"step_{i}", "turn_index": 1, "status": "ok" if i % 17 else "error",
                      "attributes": {"arguments": {"i": i}, "result": "ok"}})
    doc = {"session_id": "BIG", "turns": [{"role": "customer", "text": "hi"},
                                          {"role": "assistant", "text": "hello", "confidence": 0.9}], "spans": spans}
    src = tmp / "big.jsonl"
    src.write_text(json.dumps(doc) + "\n")
    db = tmp / "tree.db"
    subprocess.run([sys.executable, "-m", "cstui", "import", str(src), "--run", "tree", "--db", str(db)], check=True,
                   stdout=subprocess.DEVNULL)
    from cstui.app import create_app
    from cstui.screens.session import SessionDetailScreen

    async def measure() -> float:
        app = create_app(db)
        async with app.run_test(headless=True, size=(160, 48)) as pilot:
            await pilot.pause()
            t0 = time.perf_counter()
            app.push_screen(SessionDetailScreen(app.store, "tree", "BIG"))
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            tree = app.screen.query_one("#spans")
            assert len(app.screen._span_nodes) == 2000, len(app.screen._span_nodes)
            del tree
            return time.perf_counter() - t0

    return asyncio.run(measure())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    script = Path(sys.executable).parent / "cstui"  # the console script users run
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "cstui"]
    import cstui
    import cstui.evaluators
    import cstui.screens

    # as installed: bytecode compiled (this machine sets PYTHONDONTWRITEBYTECODE, which would make every
    # run recompile cstui's sources)
    for pkg in (cstui, cstui.screens, cstui.evaluators):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(pkg.__file__).parent)], check=True)
    baseline = wall([sys.executable, "-c", "pass"])
    help_s = wall([*cli, "--help"])
    ratio = help_s / baseline
    print(f"cstui --help             {help_s:7.3f} s vs python -c pass {baseline:.3f} s: ratio {ratio:.2f} "
          f"(budget 2.0) {'OK' if ratio <= 2 else 'MISSED'}")
    record("cstui --help vs python -c pass", ratio, "x", "<= 2.0", ratio <= 2, f"{help_s:.3f} s vs {baseline:.3f} s")

    with tempfile.TemporaryDirectory() as tmp:
        tree = span_tree_seconds(Path(tmp))
        print(f"span tree, 2,000 spans   {tree:7.3f} s from opening the session to the painted tree")
        record("span tree of a 2,000-span session", tree, "s", "(no budget set)", None, "open session to painted tree")

        src = Path(tmp) / "s.jsonl"
        generate(src, args.n)
        db = Path(tmp) / "rss.db"
        peaks = {
            "import": peak_rss_mb([*cli, "import", str(src), "--run", "r", "--db", str(db)]),
            "eval": peak_rss_mb([*cli, "eval", "--run", "r", "--db", str(db), "--no-drift"]),
        }
    bench_db = cached_bench_db(args.n)
    peaks["report"] = peak_rss_mb([*cli, "report", "--run", "bench", "--db", str(bench_db), "--json"])
    for step, mb in peaks.items():
        print(f"peak RSS {step:<15} {mb:7.0f} MB (budget 400) {'OK' if mb <= 400 else 'MISSED'}")
        record(f"peak RSS: {step} {args.n // 1000}k sessions", mb, "MB", "<= 400", mb <= 400,
               "largest process (eval workers included)")


if __name__ == "__main__":
    main()
