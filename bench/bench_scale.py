"""The scale budgets of docs/scale.md at 100k and 1M sessions (10 spans each), measured in one run.

    python bench/bench_scale.py [--sizes 100000 1000000] [--workdir DIR] [--skip-raw]

For each size: generate the sessions, then run each command as its own process and record its wall time and
peak RSS (`os.wait4`): `import` (and its ratio to raw `sqlite3.executemany` of the same rows, unless
--skip-raw), `eval` (every deterministic evaluator), `report --json` first (right after the evaluation: its
chunks are built from the import's session snapshots and the new masks) and again from its own snapshots,
`gate` (drift and compare are two reports), the TUI (bench_tui.py's dashboard, failures list and typed
search, twice), then `eval` again (a second evaluation supersedes the first). Budgets at the largest size: every
command's peak RSS <= 500 MB and <= 1.3x its figure at the smallest size; import >= 0.3x raw; eval <= 6 min,
again too; report <= 10 s (<= 2 s from snapshots); a TUI keystroke <= 150 ms. The 1M run needs about 15 GB of
disk and 40 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_import import raw_session_rows  # noqa: E402
from bench_tui import CSTUI as TUI_SCRIPT  # noqa: E402
from bench_tui import run as run_tui  # noqa: E402
from gen_sessions import generate  # noqa: E402
from table import record  # noqa: E402

from cstui.config import Config  # noqa: E402
from cstui.store import MIGRATIONS  # noqa: E402

CSTUI = [sys.executable, "-m", "cstui"]


# A child's ru_maxrss counts its parent's pages until it execs (fork shares them), so a command is started by this
# small launcher rather than by the benchmark, which holds every raw row once the baseline has run.
LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
with open(os.devnull, "wb") as sink:
    proc = subprocess.Popen(sys.argv[1:], stdout=sink, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
"""


def measured(args: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one command in its own process."""
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *args], capture_output=True, text=True, check=True)
    seconds, rss, code = out.stdout.split()
    return float(seconds), float(rss), int(code)


def raw_seconds(src: Path, db: Path, batch: int = 2000) -> float:
    """Seconds raw `sqlite3.executemany` takes to insert the rows cstui writes for these sessions (same schema and
    indices, one transaction, batches of 2,000 as the importer uses); only the inserts are timed, and rows are
    built a batch at a time (holding a million sessions' rows at once needs more than 24 GB)."""
    import sqlite3

    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(MIGRATIONS[1])
    cfg, elapsed, sessions, spans = Config(), 0.0, [], []

    def flush() -> float:
        t0 = time.perf_counter()
        conn.executemany("INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", sessions)
        conn.executemany("INSERT INTO spans (sid, span_id, parent_id, kind, name, turn_index, status, doc)"
                         " VALUES (?,?,?,?,?,?,?,?)", spans)
        sessions.clear()
        spans.clear()
        return time.perf_counter() - t0

    conn.execute("BEGIN IMMEDIATE")
    for session, session_spans in raw_session_rows(src, cfg):
        sessions.append(session)
        spans.extend(session_spans)
        if len(sessions) >= batch:
            elapsed += flush()
    elapsed += flush()
    t0 = time.perf_counter()
    conn.execute("COMMIT")
    elapsed += time.perf_counter() - t0
    conn.close()
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    return elapsed


def run_size(n: int, workdir: Path, skip_raw: bool) -> dict[str, tuple[float, float]]:
    src, db = workdir / f"s{n}.jsonl", workdir / f"s{n}.db"
    for stale in workdir.glob(f"s{n}.db*"):
        stale.unlink()
    if not src.exists():
        generate(src, n)
    common = ["--db", str(db)]
    figures: dict[str, tuple[float, float]] = {}
    evaluate = [*CSTUI, *common, "eval", "--run", "big", "--no-drift"]
    steps = [
        ("import", [*CSTUI, *common, "import", str(src), "--run", "big"]),
        ("eval", evaluate),
        ("report (first)", [*CSTUI, *common, "report", "--run", "big", "--json"]),
        ("report (snapshots)", [*CSTUI, *common, "report", "--run", "big", "--json"]),
        ("gate", [*CSTUI, *common, "gate", "--run", "big", "--json"]),
    ]

    def step(name: str, args: list[str]) -> None:
        seconds, rss, code = measured(args)
        if code not in (0, 1):  # a gate that fails is still a measurement
            raise SystemExit(f"{name} at {n:,} exited {code}")
        figures[name] = (seconds, rss)
        print(f"  {n:>9,}  {name:<20} {seconds:8.1f} s  {rss:7.0f} MB", flush=True)

    for name, args in steps:
        step(name, args)
    # the TUI on the evaluated run: dashboard, failures list, a search typed (bench_tui.py), twice
    tui = [run_tui(TUI_SCRIPT, str(db), "big") for _ in range(2)]
    keys = sorted(k for r in tui for k in r["keystrokes"])
    figures["tui (worst keystroke)"] = (keys[-1], max(r["peak_rss_mb"] for r in tui))
    print(f"  {n:>9,}  {'tui':<20} keystroke {1000 * keys[len(keys) // 2]:.0f} ms median, "
          f"{1000 * keys[-1]:.0f} ms worst; failures list in {max(r['failures_loaded'] for r in tui):.1f} s; "
          f"{figures['tui (worst keystroke)'][1]:.0f} MB", flush=True)
    step("eval (again)", evaluate)  # last: the TUI above is measured on a run evaluated once, as before
    if not skip_raw:
        figures["raw executemany"] = (raw_seconds(src, workdir / f"raw{n}.db"), 0.0)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temporary directory)")
    ap.add_argument("--skip-raw", action="store_true", help="skip the raw executemany baseline")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = {n: run_size(n, workdir, args.skip_raw) for n in args.sizes}
    small, large = min(args.sizes), max(args.sizes)
    budgets = {"eval": 360.0, "eval (again)": 360.0, "report (first)": 10.0, "report (snapshots)": 2.0,
               "tui (worst keystroke)": 0.150}
    print(f"\n| command | {small:,}: s / MB | {large:,}: s / MB | RSS ratio | budget |\n|---|---|---|---|---|")
    for name, (seconds, rss) in results[large].items():
        if name == "raw executemany":
            continue
        s_small, rss_small = results[small][name]
        ratio = rss / rss_small if rss_small else float("nan")
        ok = rss <= 500 and ratio <= 1.3 and seconds <= budgets.get(name, float("inf"))
        limit = f"≤ {budgets[name]:g} s, " if name in budgets else ""
        print(f"| {name} | {s_small:.2f} / {rss_small:.0f} | {seconds:.2f} / {rss:.0f} | {ratio:.2f}× | "
              f"{limit}≤ 500 MB, ≤ 1.3× | {'OK' if ok else 'MISSED'}")
        record(f"{name} at {large:,} sessions", rss, "MB", f"{limit}≤ 500 MB and ≤ 1.3× the {small:,} figure", ok,
               f"{seconds:.2f} s; {small:,}: {s_small:.2f} s, {rss_small:.0f} MB")
    for n in args.sizes:
        if "raw executemany" in results[n]:
            ratio = results[n]["raw executemany"][0] / results[n]["import"][0]
            print(f"import at {n:,}: {ratio:.2f}× raw executemany (target ≥ 0.30)")
            if n == large:
                record(f"import at {n:,} vs raw executemany", ratio, "x", ">= 0.30", ratio >= 0.3)


if __name__ == "__main__":
    main()
