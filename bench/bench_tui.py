"""TUI budgets at 100k sessions: first paint against a bare Textual app (budget 1.5x), time until the
dashboard's metrics are on screen, and the failures filter per keystroke (budget 150 ms).

Each figure comes from a fresh subprocess, measured from interpreter start, headless at 160x48. First
paint is Textual's `Ready` event ("the first frame has been displayed") in both apps.

    python bench/bench_tui.py [--n 100000] [--db PATH --run NAME]   # --db: an existing evaluated database
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_sessions import cached_bench_db  # noqa: E402
from table import record  # noqa: E402

BARE = """
import time, asyncio, json
t0 = time.perf_counter()
from textual.app import App
from textual.widgets import Footer, Header, Input

class Bare(App):
    def compose(self):
        yield Header(); yield Input(); yield Footer()
    def on_ready(self):
        self.first_paint = time.perf_counter() - t0

async def main():
    app = Bare()
    async with app.run_test(headless=True, size=(160, 48)) as pilot:
        await pilot.pause()
        out = {"first_paint": app.first_paint}
        times = []
        for ch in "B-00012":
            t = time.perf_counter()
            await pilot.press(ch)
            await pilot.pause()
            times.append(time.perf_counter() - t)
        out["keystrokes"] = times
        print(json.dumps(out))
asyncio.run(main())
"""

CSTUI = """
import time, asyncio, json, sys
t0 = time.perf_counter()
from cstui.app import CstuiApp

class Timed(CstuiApp):
    def on_ready(self):
        self.first_paint = time.perf_counter() - t0

async def main():
    app = Timed(__import__("pathlib").Path(sys.argv[1]), run=sys.argv[2])
    out = {}
    async with app.run_test(headless=True, size=(160, 48)) as pilot:
        await pilot.pause()
        out["first_paint"] = app.first_paint
        out["screen_at_first_paint"] = type(app.screen).__name__
        await app.workers.wait_for_complete()
        await pilot.pause()
        out["metrics_shown"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        await pilot.press("f")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        out["failures_loaded"] = time.perf_counter() - t1
        table = app.screen.query_one("FailureTable")
        out["n_failing"] = table.row_count
        await pilot.press("slash")
        await pilot.pause()
        times = []
        for ch in "B-00012":
            t = time.perf_counter()
            await pilot.press(ch)
            await pilot.pause()
            times.append(time.perf_counter() - t)
        out["keystrokes"] = times
        out["n_after_filter"] = table.row_count
    out["peak_rss_mb"] = __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
asyncio.run(main())
"""


def run(code: str, *args: str) -> dict:
    from cstui.cli import ALLOCATOR

    env = {**os.environ}
    env.setdefault(*ALLOCATOR)  # as the `cstui` command starts the TUI
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", type=Path, help="an existing evaluated database instead of the generated one")
    ap.add_argument("--run", default="bench", help="the run to open in --db")
    args = ap.parse_args()
    db = args.db or cached_bench_db(args.n)
    import cstui.evaluators
    import cstui.screens

    # as installed: bytecode compiled (this machine sets PYTHONDONTWRITEBYTECODE, which would otherwise make
    # every measured start recompile cstui's sources while the bare app's textual is precompiled)
    for package in (cstui, cstui.screens, cstui.evaluators):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)], check=True)
    bare_runs = [run(BARE) for _ in range(args.repeat)]
    bare = statistics.median(r["first_paint"] for r in bare_runs)
    bare_key = statistics.median(k for r in bare_runs for k in r["keystrokes"])
    runs = [run(CSTUI, str(db), args.run) for _ in range(args.repeat)]
    first = statistics.median(r["first_paint"] for r in runs)
    shown = statistics.median(r["metrics_shown"] for r in runs)
    keys = [k for r in runs for k in r["keystrokes"]]
    per_key = statistics.median(keys)
    worst = max(keys)
    print("  keystrokes (ms): " + "; ".join(" ".join(f"{1000 * k:.0f}" for k in r["keystrokes"]) for r in runs))
    print(f"tui: {db.name}, {runs[0]['n_failing']:,} failing; filter '{'B-00012'}' leaves "
          f"{runs[0]['n_after_filter']:,}; peak RSS {max(r['peak_rss_mb'] for r in runs):.0f} MB")
    print(f"  bare Textual first paint   {bare:7.3f} s")
    print(f"  cstui first paint          {first:7.3f} s  ratio {first / bare:.2f}  (budget 1.50) "
          f"{'OK' if first / bare <= 1.5 else 'MISSED'}")
    print(f"  dashboard metrics shown    {shown:7.3f} s  (computed in a worker after first paint)")
    print(f"  failures view loaded       {statistics.median(r['failures_loaded'] for r in runs):7.3f} s")
    print(f"  filter per keystroke       {1000 * per_key:7.1f} ms median, {1000 * worst:.1f} ms worst  "
          f"(budget 150) {'OK' if worst <= 0.150 else 'MISSED'}")
    print(f"    of which Pilot + Textual {1000 * bare_key:7.1f} ms (typing into an Input in a bare app); "
          f"cstui's own work {1000 * (per_key - bare_key):.1f} ms")
    record("TUI first paint vs bare Textual", first / bare, "x", "<= 1.5", first / bare <= 1.5,
           f"{first:.3f} s vs {bare:.3f} s; metrics on screen at {shown:.2f} s")
    record("failures filter per keystroke (worst)", 1000 * worst, "ms", "<= 150", worst <= 0.150,
           f"median {1000 * per_key:.0f} ms; Pilot+Textual alone {1000 * bare_key:.0f} ms")


if __name__ == "__main__":
    main()
