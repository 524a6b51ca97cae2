"""`cstui watch` (issue 37, item 2): files dropped into a folder are imported once each — one written slowly
only once it is whole — and evaluated; a crash between import and journal does not import twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import DATA

from cstui.store import Store

FILES = [DATA / "langfuse" / "koog-2025-08-26.trace.json", DATA / "langfuse" / "agno-2025-06-11.trace.json"]


def _sessions(db: Path, run: str = "live") -> list[str]:
    with Store(db) as store:
        return store.session_ids(run)


def test_watch_imports_each_file_once_even_one_written_slowly(tmp_path):
    folder, db = tmp_path / "drop", tmp_path / "w.db"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "cstui", "watch", str(folder), "--run", "live", "--db", str(db),
                             "--settle", "1.5", "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        time.sleep(1.0)
        shutil.copy(FILES[0], folder / "first.json")
        data = FILES[1].read_bytes()
        with (folder / "slow.json").open("wb") as out:  # an exporter writing in bursts
            for start in range(0, len(data), len(data) // 3 + 1):
                out.write(data[start: start + len(data) // 3 + 1])
                out.flush()
                time.sleep(0.5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_sessions(db) if db.exists() else []) < 2:
            time.sleep(0.2)
        time.sleep(2.0)  # another few looks at the folder: nothing is imported twice
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "refused" not in out, out  # the half-written file was never taken
    assert out.count("first.json → run live: 1 session(s)") == 1 and out.count("slow.json → run live") == 1, out
    assert "2 file(s) imported" in out
    assert len(_sessions(db)) == 2
    with Store(db) as store:
        assert sum(1 for r in store.iter_result_rows("live")) == 2 * 22  # evaluated as they arrived
    again = subprocess.run([sys.executable, "-m", "cstui", "watch", str(folder), "--run", "live", "--db", str(db),
                            "--once"], capture_output=True, text=True)
    assert again.returncode == 0 and "0 file(s) imported" in again.stdout


def test_a_crash_between_import_and_journal_is_recognised_not_imported_twice(tmp_path, cli):
    folder, db = tmp_path / "drop", tmp_path / "w.db"
    folder.mkdir()
    shutil.copy(FILES[0], folder / "a.json")
    assert cli("import", folder / "a.json", "--run", "live", "--db", db).code == 0  # imported, never journaled
    r = cli("watch", folder, "--run", "live", "--db", db, "--once")
    assert r.code == 0 and "already in the run" in r.out, r.out
    assert len(_sessions(db)) == 1
    journal = [json.loads(line) for line in (tmp_path / "w.db.watch.jsonl").read_text().splitlines()]
    assert len(journal) == 1 and journal[0]["path"].endswith("a.json")


def test_a_file_import_refuses_is_reported_once_and_the_rest_still_imports(tmp_path, cli):
    folder, db = tmp_path / "drop", tmp_path / "w.db"
    folder.mkdir()
    (folder / "bad.json").write_text("{not json")
    shutil.copy(FILES[0], folder / "good.json")
    r = cli("watch", folder, "--run", "live", "--db", db, "--once")
    assert r.code == 0 and r.out.count("refused") == 1 and "good.json → run live" in r.out, r.out
    assert not (folder / "bad.json.watch.jsonl").exists() and sorted(p.name for p in folder.iterdir()) == [
        "bad.json", "good.json"]  # nothing written into the watched folder
