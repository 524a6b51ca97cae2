"""The launch contract, as a user meets it from a shell: anything wrong before the first frame is one line on
stderr and exit 2 — never a traceback, never exit 0."""

from __future__ import annotations

import subprocess
import sys

import pytest


def launch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cstui", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60, check=False)


@pytest.mark.parametrize(("args", "says"), [
    (["--run", "nope"], "no run named 'nope'"),
    (["--run", "candidate", "--session", "S-999999"], "no session 'S-999999' in run 'candidate'"),
    (["--session", "S-999999"], "no session 'S-999999'"),
    (["--queue", "nope"], "no review queue named 'nope'"),
    (["--run", "candidate", "--baseline", "nope"], "no baseline run named 'nope'"),
])
def test_unknown_run_session_queue_or_baseline(demo_db, args, says):
    r = launch("--db", str(demo_db), *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and says in r.stderr


@pytest.mark.parametrize("command", [[], ["report", "--run", "candidate"], ["runs"]])
def test_a_corrupt_or_missing_database_is_one_line_and_exit_2(tmp_path, command):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not an SQLite file at all" * 100)
    r = launch("--db", str(corrupt), *command)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "cstui database" in r.stderr
    r = launch("--db", str(tmp_path / "missing.db"), "--run", "candidate")
    assert r.returncode == 2 and "no database at" in r.stderr and "Traceback" not in r.stderr


def test_a_database_from_a_newer_cstui_is_refused(tmp_path, demo_db):
    import shutil
    import sqlite3

    newer = tmp_path / "newer.db"
    shutil.copy(demo_db, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 999")
    r = launch("--db", str(newer), "runs")
    assert r.returncode == 2 and "newer than this cstui" in r.stderr and "Traceback" not in r.stderr


async def test_session_alone_finds_its_run_or_asks_which(demo_db):
    from tuikit import settle

    from cstui.app import create_app

    app = create_app(demo_db, session="P-01-001")  # only in the assist-prod run
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "SessionDetailScreen" and app.screen.run == "assist-prod"
    app = create_app(demo_db, session="S-000091")  # in baseline and candidate
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "PickScreen"
        from textual.widgets import OptionList

        options = app.screen.query_one(OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == \
            ["baseline", "candidate"]  # a run must be chosen: no "(any)"
        await pilot.press("down", "enter")  # baseline, then candidate
        await settle(pilot)
        assert type(app.screen).__name__ == "SessionDetailScreen"
        assert (app.screen.run, app.screen.session_id) == ("candidate", "S-000091")


async def test_the_baseline_is_remembered_per_run(demo_db):
    from tuikit import settle

    from cstui.app import create_app

    app = create_app(demo_db, run="candidate", baseline="baseline")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.screen.baseline == "baseline"
    app = create_app(demo_db, run="candidate")  # a later launch without --baseline
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.screen.baseline == "baseline"
