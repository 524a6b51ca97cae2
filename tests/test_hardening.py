"""Trust properties: tamper-evident audit, crash safety, concurrency, offline operation, hostile input."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cstui.store import Store

ROOT = Path(__file__).parent.parent


def labelled(db, cli, n=4):
    for i in range(n):
        assert cli("label", "S-000099", "--run", "candidate", "--evaluator", "authorization_fabrication",
                   "--verdict", "pass" if i % 2 else "fail", "--note", f"note {i}", "--db", db).code == 0
    assert cli("audit", "verify", "--db", db).code == 0


@pytest.mark.parametrize("tamper,expect", [  # {a} .. {d}: the audit records of the four labels
    ("UPDATE audit SET payload = replace(payload, 'note 1', 'note X') WHERE id = {b}",
     "record {b}: contents do not match"),
    ("DELETE FROM audit WHERE id = {b}", "record {c}: previous-hash link broken"),
    ("UPDATE audit SET id = id + 100000 WHERE id = {b}; UPDATE audit SET id = {b} WHERE id = {c}; "
     "UPDATE audit SET id = {c} WHERE id = {b} + 100000", "record {b}: previous-hash link broken"),
    ("UPDATE labels SET verdict = 'pass' WHERE id = 1", "label 1: verdict differs"),
    ("UPDATE labels SET note = 'edited' WHERE id = 3", "label 3: note differs"),
    ("UPDATE labels SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = 2", "label 2: created_at differs"),
    ("DELETE FROM labels WHERE id = 2", "label 2 was deleted"),
    ("INSERT INTO labels (run, session_id, evaluator, verdict, reviewer, source, created_at) VALUES "
     "('candidate', 'S-000001', 'pii_leak', 'pass', 'mallory', 'cli', 'now')", "has no audit record"),
    ("DELETE FROM audit WHERE id = {d}", "label 4 has no audit record"),  # the tail
])
def test_audit_verify_reports_the_first_broken_link_after_plain_sqlite_tampering(demo_db, cli, tamper, expect):
    labelled(demo_db, cli)
    with sqlite3.connect(demo_db) as conn:
        a, b, c, d = [i for (i,) in conn.execute("SELECT id FROM audit WHERE action = 'label' ORDER BY id")]
        conn.executescript(tamper.format(a=a, b=b, c=c, d=d))
    r = cli("audit", "verify", "--db", demo_db)
    assert r.code == 1 and "BROKEN" in r.out and expect.format(a=a, b=b, c=c, d=d) in r.out, r.out


def test_audit_head_changes_with_every_record(demo_db, cli):
    labelled(demo_db, cli, 1)
    first = cli("audit", "verify", "--db", demo_db).out.split("head ")[1].split()[0]
    labelled(demo_db, cli, 1)
    assert cli("audit", "verify", "--db", demo_db).out.split("head ")[1].split()[0] != first


def test_drift_note_edits_are_detected(demo_db, cli):
    events = json.loads(cli("drift", "--run", "candidate", "--db", demo_db, "--json").out)
    assert cli("drift", "note", str(events[0]["id"]), "rolled back", "--db", demo_db).code == 0
    with sqlite3.connect(demo_db) as conn:
        conn.execute("UPDATE drift_events SET note = 'nothing to see' WHERE id = ?", (events[0]["id"],))
    r = cli("audit", "verify", "--db", demo_db)
    assert r.code == 1 and "note differs" in r.out


# ---------------------------------------------------------------------------------------------- crash safety
def big_file(tmp_path: Path, n: int) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    from gen_sessions import generate

    path = tmp_path / f"big-{n}.jsonl"
    generate(path, n)
    return path


def cstui_proc(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cstui", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_sigkill_mid_import_and_mid_eval_leaves_no_partial_run(tmp_path, demo_db, cli):
    n = 20_000
    src = big_file(tmp_path, n)
    with Store(demo_db) as store:
        results_before = store.conn.execute("SELECT count(*) FROM results").fetchone()[0]
    for delay in (0.5, 1.0, 1.5, 2.5):
        proc = cstui_proc("import", src, "--run", "big", "--db", demo_db, "--replace")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert integrity(demo_db) == "ok"
        with Store(demo_db) as store:  # all or nothing: never a part of the file
            sessions = store.conn.execute("SELECT count(*) FROM sessions WHERE run = 'big'").fetchone()[0]
            spans = store.conn.execute(
                "SELECT count(*) FROM spans WHERE sid IN (SELECT id FROM sessions WHERE run = 'big')").fetchone()[0]
            listed = store.conn.execute("SELECT n_sessions FROM runs WHERE name = 'big'").fetchone()
            assert (sessions, spans, listed) in ((0, 0, None), (n, 10 * n, (n,)))
    assert cli("import", src, "--run", "big", "--db", demo_db, "--replace").code == 0
    for delay in (1.0, 2.0):
        proc = cstui_proc("eval", "--run", "big", "--db", demo_db, "--processes", "1", "--no-drift")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert integrity(demo_db) == "ok"
        with Store(demo_db) as store:
            batches = store.conn.execute("SELECT count(DISTINCT batch) FROM results WHERE run = 'big'").fetchone()[0]
            assert batches == 0  # a killed eval wrote nothing, not half a batch
            assert store.conn.execute("SELECT count(*) FROM results WHERE run != 'big'").fetchone()[0] == results_before


# ---------------------------------------------------------------------------------------------- concurrency
LABELLER = """
import sys
from cstui.store import Store
db, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Store(db) as store:
    for i in range(n):
        store.add_label("candidate", {"session_id": "S-000091", "evaluator": "policy_grounding",
                                      "verdict": "pass" if i % 2 else "fail", "note": f"{who} {i}"}, reviewer=who)
"""


def test_two_reviewers_relabelling_the_same_session_keep_every_label(demo_db, cli):
    procs = [subprocess.Popen([sys.executable, "-c", LABELLER, str(demo_db), who, "40"], stderr=subprocess.PIPE)
             for who in ("ana", "ben")]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()
    with Store(demo_db) as store:
        labels = store.labels("candidate", "S-000091")
    assert sorted((lab["reviewer"], lab["note"]) for lab in labels) == sorted(
        [("ana", f"ana {i}") for i in range(40)] + [("ben", f"ben {i}") for i in range(40)])
    assert cli("audit", "verify", "--db", demo_db).code == 0


async def test_tui_keeps_working_while_another_process_imports_and_evaluates(demo_db, tmp_path):
    from textual.widgets import DataTable
    from tuikit import settle

    from cstui.app import create_app

    src = big_file(tmp_path, 10_000)
    script = (f"import subprocess, sys; r = subprocess.run([sys.executable, '-m', 'cstui', 'import', {str(src)!r}, "
              f"'--run', 'live', '--db', {str(demo_db)!r}]); r.returncode or subprocess.run([sys.executable, '-m', "
              f"'cstui', 'eval', '--run', 'live', '--db', {str(demo_db)!r}, '--processes', '1']).check_returncode()")
    writer = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    app = create_app(demo_db, run="candidate", session="S-000099")
    labels_saved = during = 0
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        while writer.poll() is None and labels_saved < 15:
            await pilot.press("l")
            await pilot.pause()
            app.screen.query_one("#note").value = f"while importing {labels_saved}"
            during += writer.poll() is None
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert type(app.screen).__name__ == "SessionDetailScreen"
            labels_saved += 1
            await pilot.press("escape")  # back to the dashboard, which reloads its metrics
            await settle(pilot)
            assert app.screen.query_one("#gate", DataTable).row_count > 0
            app.open_dashboard("candidate")
            await settle(pilot)
            await pilot.press("escape")
            from cstui.screens.session import SessionDetailScreen

            app.push_screen(SessionDetailScreen(app.store, "candidate", "S-000099"))
            await settle(pilot)
    assert writer.wait(timeout=300) == 0, writer.stderr.read().decode()
    with Store(demo_db) as store:
        notes = [lab["note"] for lab in store.labels("candidate", "S-000099")]
        assert notes == [f"while importing {i}" for i in range(labels_saved)] and during >= 1
        assert store.conn.execute("SELECT count(*) FROM sessions WHERE run = 'live'").fetchone()[0] == 10_000
    assert integrity(demo_db) == "ok"


# ---------------------------------------------------------------------------------------------- offline
@pytest.fixture
def no_network(monkeypatch):
    attempts = []
    real = socket.socket.connect

    def guarded(self, address):
        attempts.append(address)
        raise OSError(f"network disabled in this test: {address}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: guarded(None, a[0]))
    yield attempts
    monkeypatch.setattr(socket.socket, "connect", real)


def test_headless_commands_and_the_tui_make_no_connection(demo_db, cli, tmp_path, no_network):
    import asyncio

    from cstui.app import create_app
    from cstui.demo import sample_file

    for args in (["import", sample_file("baseline.jsonl"), "--run", "again", "--kb", sample_file("kb.jsonl")],
                 ["eval", "--run", "again"], ["report", "--run", "again", "--json"],
                 ["gate", "--run", "again", "--baseline", "baseline", "--json"],
                 ["export", "--run", "again", "--what", "evidence", "--format", "parquet", "--out", tmp_path / "e.pq"],
                 ["review", "--run", "again", "--sample", "5", "--seed", "1"], ["audit", "verify"], ["runs", "--json"]):
        assert cli(*args, "--db", demo_db).code == 0, args

    async def walk():
        app = create_app(demo_db, run="candidate", session="S-000091")
        async with app.run_test(size=(160, 48)) as pilot:
            from tuikit import settle

            await settle(pilot)
            await pilot.press("K", "escape", "escape")
            await settle(pilot)

    asyncio.run(walk())
    assert no_network == []


# ---------------------------------------------------------------------------------------------- headless speed
def test_help_and_headless_commands_stay_light(demo_db):
    code = ("import sys, cstui.cli as c\n"
            "try:\n    c.main(['report', '--run', 'candidate', '--db', sys.argv[1], '--json'])\nfinally:\n"
            "    print(','.join(m for m in ('textual', 'litellm', 'plotext') if m in sys.modules), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code, str(demo_db)], capture_output=True, text=True, env={
        **os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert r.returncode == 0 and r.stderr.strip() == ""
    assert hashlib.sha256(b"x").hexdigest()  # keep hashlib imported for the fuzz tests below


# ---------------------------------------------------------------------------------------------- inert output
HOSTILE = "\x1b]52;c;ZXZpbA==\x07[bold]x[/]\x1b[31m\u202eevil\x9b2J"


def test_every_command_prints_hostile_strings_inertly_and_exports_keep_them(tmp_path, cli):
    import orjson

    from cstui.demo import sample_file

    doc = orjson.loads(sample_file("candidate.jsonl").read_text().splitlines()[0])
    doc["session_id"] = "S-" + HOSTILE
    doc["intent"] = HOSTILE
    doc["channel"] = HOSTILE
    doc["turns"][0]["text"] = HOSTILE
    src = tmp_path / "hostile.jsonl"
    src.write_bytes(orjson.dumps(doc) + b"\n")
    db = tmp_path / "h.db"
    run = "run" + HOSTILE
    outputs = []
    for args in (["import", src, "--run", run], ["eval", "--run", run], ["runs"], ["report", "--run", run],
                 ["report", "--run", run, "--by", "intent"], ["gate", "--run", run],
                 ["label", "S-" + HOSTILE, "--run", run, "--evaluator", "pii_leak", "--verdict", "fail",
                  "--note", HOSTILE],
                 ["golden", "add", "S-" + HOSTILE, "--run", run, "--reason", HOSTILE], ["golden", "list"],
                 ["review", "--run", run, "--sample", "1"], ["review"], ["drift"], ["audit", "verify"]):
        r = cli(*args, "--db", db)
        assert r.code in (0, 1), (args, r.err)
        outputs.append(r.out + r.err)
    printed = "".join(outputs)
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in printed, repr(bad)
    assert "[bold]x[/]" in printed  # shown literally
    out = tmp_path / "sessions.jsonl"
    assert cli("export", "--run", run, "--what", "sessions", "--format", "jsonl", "--out", out, "--db", db).code == 0
    assert orjson.loads(out.read_bytes())["turns"][0]["text"] == HOSTILE  # exports keep the original


async def test_every_screen_renders_hostile_strings_inertly(tmp_path, cli):
    import orjson
    from tuikit import settle

    from cstui.app import create_app
    from cstui.demo import sample_file

    doc = orjson.loads(sample_file("candidate.jsonl").read_text().splitlines()[0])
    doc.update(session_id="S-" + HOSTILE, intent=HOSTILE, channel=HOSTILE)
    doc["turns"][0]["text"] = HOSTILE
    doc["outcome"]["correct"] = False
    src = tmp_path / "hostile.jsonl"
    src.write_bytes(orjson.dumps(doc) + b"\n")
    db = tmp_path / "h.db"
    assert cli("import", src, "--run", "r" + HOSTILE, "--db", db).code == 0
    assert cli("eval", "--run", "r" + HOSTILE, "--db", db).code == 0
    cli("label", "S-" + HOSTILE, "--run", "r" + HOSTILE, "--evaluator", "pii_leak", "--verdict", "fail",
        "--note", HOSTILE, "--db", db)
    app = create_app(db, run="r" + HOSTILE)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        screens = [app.export_screenshot()]
        await pilot.press("f")
        await settle(pilot)
        screens.append(app.export_screenshot())
        await pilot.press("enter")
        await settle(pilot)
        screens.append(app.export_screenshot())
        await pilot.press("K")
        await settle(pilot)
        screens.append(app.export_screenshot())
    for svg in screens:
        for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
            assert bad not in svg
    assert any("&lt;U+202E&gt;" in svg or "<U+202E>" in svg for svg in screens)
