"""A handed-over folder or database is data: it cannot run code, send data, fire triggers, feed stale summaries,
or be written to when it is not a cstui file; a read-only copy is readable; every failure is one line with the
exit code that means it (docs/formats.md, "Files from someone else")."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cstui.store import Store

ROOT = Path(__file__).parent.parent

PLUGIN = '''
from pathlib import Path
Path(__file__).with_name("PLUGIN_RAN").write_text("yes")
from cstui.api import Verdict, evaluator

@evaluator(id="folder_plugin", dimension="compliance", version="1")
def folder_plugin(session, ctx):
    return Verdict(passed=True, rationale="ok")
'''


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cstui(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cstui", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


# ---------------------------------------------------------------------------------------------- a folder
@pytest.fixture
def handed_folder(tmp_path, demo_db):
    folder = tmp_path / "handed"
    folder.mkdir()
    (folder / "evil.py").write_text(PLUGIN)
    (folder / "cstui.toml").write_text('plugins = ["evil.py"]\nreviewer = "the-sender"\n'
                                       'judge_api_base = "http://127.0.0.1:9/steal"\njudge_model = "openai/gpt-4o"\n'
                                       "max_turns_to_escalation = 7\n")
    return folder


@pytest.mark.parametrize("command", [
    ["report", "--run", "candidate"], ["gate", "--run", "baseline"], ["evaluators", "--json"],
    ["eval", "--run", "candidate", "--evaluators", "pii_leak", "--no-drift"],
    ["validate", "--run", "candidate"],
    ["--run", "no-such-run"],  # the TUI: plug-ins load before it checks where to open (then exit 2 here)
])
def test_a_folders_config_runs_no_plugin_unless_trusted(handed_folder, demo_db, command):
    db = [] if command[0] == "evaluators" else ["--db", demo_db]
    r = cstui(*command, *db, cwd=handed_folder)
    assert r.returncode in (0, 1, 2) and "Traceback" not in r.stderr, r.stderr  # validate: 2, no labels yet
    assert not (handed_folder / "PLUGIN_RAN").exists()
    assert "ignoring judge_api_base, judge_model, plugins, reviewer from" in r.stderr
    assert r.stderr.count("ignoring") == 1  # one line
    r = cstui(*command, *db, "--trust-config", cwd=handed_folder)
    assert r.returncode in (0, 1, 2) and "Traceback" not in r.stderr, r.stderr
    assert (handed_folder / "PLUGIN_RAN").exists() and "ignoring" not in r.stderr


def test_a_trusted_folder_listed_in_the_users_config_is_trusted(handed_folder, demo_db, tmp_path):
    home = tmp_path / "xdg"
    (home / "cstui").mkdir(parents=True)
    (home / "cstui" / "cstui.toml").write_text(f"trusted_folders = [{str(handed_folder)!r}]\n")
    r = cstui("evaluators", cwd=handed_folder, env={"XDG_CONFIG_HOME": str(home)})
    assert r.returncode == 0 and (handed_folder / "PLUGIN_RAN").exists() and "folder_plugin" in r.stdout


def test_config_show_says_where_each_value_came_from_and_what_was_ignored(handed_folder):
    r = cstui("config", "show", "--json", cwd=handed_folder)
    doc = json.loads(r.stdout)
    assert doc["values"]["reviewer"] is None and doc["values"]["judge_api_base"] is None
    assert doc["values"]["plugins"] == [] and doc["values"]["max_turns_to_escalation"] == 7  # data is taken
    assert doc["source"]["max_turns_to_escalation"].endswith("cstui.toml")
    assert set(doc["ignored"]) == {"plugins", "reviewer", "judge_api_base", "judge_model"}
    text = cstui("config", "show", cwd=handed_folder).stdout
    assert "ignored (untrusted folder:" in text


def test_a_label_names_the_reviewer_it_records_and_a_folder_cannot_choose_it(handed_folder, demo_db):
    r = cstui("label", "S-000010", "--run", "candidate", "--evaluator", "pii_leak", "--verdict", "pass",
              "--db", demo_db, cwd=handed_folder)
    assert r.returncode == 0, r.stderr
    with Store(demo_db) as store:
        reviewer = store.labels("candidate", "S-000010")[-1]["reviewer"]
    assert reviewer != "the-sender" and f"as {reviewer}" in r.stdout


def test_the_command_lines_judge_model_never_goes_to_the_configs_endpoint(tmp_path, monkeypatch):
    from cstui.config import load_config
    from cstui.judge import JudgeSettings

    own = tmp_path / "mine.toml"
    own.write_text('judge_model = "ollama/llama3"\njudge_api_base = "http://127.0.0.1:11434"\n')
    cfg = load_config(own)
    assert JudgeSettings.resolve(None, None, cfg=cfg).api_base == "http://127.0.0.1:11434"
    assert JudgeSettings.resolve("openai/gpt-4o", None, cfg=cfg).api_base is None  # the key stays with openai
    assert JudgeSettings.resolve("ollama/llama3", None, cfg=cfg).api_base == "http://127.0.0.1:11434"


# ---------------------------------------------------------------------------------------------- a database
EVIL_TRIGGER = ("CREATE TRIGGER evil AFTER INSERT ON labels BEGIN DELETE FROM labels; DELETE FROM audit;"
                " UPDATE verdicts SET passed = 1; SELECT RAISE(ABORT, 'pwned \x1b]52;c;ZXZpbA==\x07'); END")


@pytest.mark.parametrize("extra", [EVIL_TRIGGER, "CREATE VIEW spy AS SELECT * FROM labels",
                                   "CREATE TRIGGER cstui_guard_verdicts_update AFTER UPDATE ON runs BEGIN SELECT 1; END"])
def test_a_database_with_an_added_trigger_or_view_is_refused_for_writing_and_read_safely(demo_db, cli, extra):
    with sqlite3.connect(demo_db) as conn:
        if "cstui_guard_verdicts_update" in extra:
            conn.execute("DROP TRIGGER cstui_guard_verdicts_update")
        conn.execute(extra)
    before = sha(demo_db)
    r = cli("label", "S-000010", "--run", "candidate", "--evaluator", "pii_leak", "--verdict", "pass", "--db", demo_db)
    assert r.code == 2 and r.err.count("\n") == 1 and "cstui did not create" in r.err and "doctor" in r.err
    assert "\x1b" not in r.err and sha(demo_db) == before  # never fired, nothing written
    r = cli("runs", "--db", demo_db)
    assert r.code == 0 and "candidate" in r.out and "working copy" in r.err
    assert sha(demo_db) == before
    r = cli("doctor", "--db", demo_db)
    assert r.code == 1 and ("evil" in r.out or "spy" in r.out or "changed" in r.out)
    assert cli("doctor", "--repair", "--db", demo_db).code == 0
    assert cli("doctor", "--db", demo_db).code == 0
    r = cli("label", "S-000010", "--run", "candidate", "--evaluator", "pii_leak", "--verdict", "pass", "--db", demo_db)
    assert r.code == 0
    assert cli("audit", "verify", "--db", demo_db).code == 0


def test_an_unrelated_sqlite_file_is_left_byte_identical_by_every_command(tmp_path, cli):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('x')")
    before = sha(other)
    src = tmp_path / "s.jsonl"
    src.write_text('{"session_id": "a", "turns": [{"role": "customer", "text": "hi"}]}\n')
    for args in (["runs"], ["report", "--run", "r"], ["import", src, "--run", "r"], ["eval", "--run", "r"],
                 ["label", "a", "--run", "r", "--note", "x"], ["audit", "verify"], ["doctor"], ["prune"],
                 ["search", "hi", "--run", "r"], ["golden", "list"], ["drift"]):
        r = cli(*args, "--db", other)
        assert r.code == 2 and r.err.count("\n") == 1 and "not a cstui database" in r.err, (args, r.err)
    assert sha(other) == before
    assert not Path(f"{other}-wal").exists() and not Path(f"{other}-shm").exists()


def test_report_and_gate_agree_with_export_after_verdicts_are_edited_with_sqlite(demo_db, cli, tmp_path):
    assert cli("report", "--run", "candidate", "--db", demo_db, "--json").code == 0  # snapshots exist
    with sqlite3.connect(demo_db) as conn:
        assert conn.execute("UPDATE verdicts SET passed = 1 WHERE passed = 0").rowcount > 0
    r = cli("report", "--run", "candidate", "--db", demo_db, "--json")
    assert r.code == 0 and "changed outside cstui" in r.err
    report = json.loads(r.out)
    assert all(ev["k"] == ev["n"] for ev in report["evaluators"].values()), report["evaluators"]
    out = tmp_path / "r.jsonl"
    assert cli("export", "--run", "candidate", "--what", "results", "--format", "jsonl", "--out", out,
               "--db", demo_db).code == 0
    assert not any(json.loads(line)["passed"] is False for line in out.read_text().splitlines())
    gate = json.loads(cli("gate", "--run", "candidate", "--db", demo_db, "--json").out)
    assert all(not r["failing_sessions"] for r in gate["rules"] if r["metric"] == "pass_rate")


def test_a_corrupt_or_foreign_snapshot_is_rebuilt_not_trusted(demo_db, cli):
    good = cli("report", "--run", "candidate", "--db", demo_db, "--json")
    with sqlite3.connect(demo_db) as conn:
        assert conn.execute("UPDATE frame_cache SET data = x'00ff00ff'").rowcount > 0
    r = cli("report", "--run", "candidate", "--db", demo_db, "--json")
    assert r.code == 0 and r.out == good.out
    with sqlite3.connect(demo_db) as conn:  # a snapshot made elsewhere (another key): not read
        conn.execute("UPDATE frame_cache SET mac = zeroblob(32)")
    assert cli("report", "--run", "candidate", "--db", demo_db, "--json").out == good.out


def test_an_older_file_is_read_through_a_copy_and_upgraded_only_by_a_writer_with_a_backup(demo_db, cli):
    from test_migration import _as_v8

    _as_v8(demo_db)
    before = sha(demo_db)
    r = cli("runs", "--db", demo_db)
    assert r.code == 0 and "schema v8" in r.err and sha(demo_db) == before
    r = cli("label", "S-000010", "--run", "candidate", "--note", "x", "--db", demo_db)
    assert r.code == 0, r.err
    backup = demo_db.with_name("demo.v8-backup.db")
    assert backup.exists() and str(backup) in r.err
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 8


# ---------------------------------------------------------------------------------------------- read-only copies
@pytest.fixture
def read_only_demo(demo_db, tmp_path):
    """The demo database on a read-only bind mount (or, where mounting is not allowed, a folder and file without
    write permission, which a non-root user cannot write either)."""
    src = tmp_path / "src"
    src.mkdir()
    with Store(demo_db) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.replace(demo_db, src / "demo.db")
    for suffix in ("-wal", "-shm"):
        Path(f"{demo_db}{suffix}").unlink(missing_ok=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True).returncode == 0 and \
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mnt)], capture_output=True).returncode == 0
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("no read-only mount possible here and root ignores file permissions")
        os.chmod(src / "demo.db", 0o444)
        os.chmod(src, 0o555)
        mnt = src
    yield mnt / "demo.db"
    if mounted:
        subprocess.run(["umount", str(mnt)], check=False)
    else:
        os.chmod(src, 0o755)


def test_the_demo_on_a_read_only_mount_can_be_read_but_not_labelled(read_only_demo, tmp_path):
    db = read_only_demo
    for args in (["runs"], ["report", "--run", "candidate", "--json"], ["audit", "verify"],
                 ["export", "--run", "candidate", "--what", "evidence", "--format", "jsonl", "--out",
                  tmp_path / "e.jsonl"], ["search", "refund", "--run", "candidate"], ["gate", "--run", "baseline"],
                 ["doctor"]):
        r = cstui(*args, "--db", db)
        assert r.returncode in (0, 1) and "Traceback" not in r.stderr, (args, r.stderr)
        assert "unable to open" not in r.stderr
    assert json.loads(cstui("report", "--run", "candidate", "--json", "--db", db).stdout)["run"] == "candidate"
    assert "hit" in cstui("search", "refund", "--run", "candidate", "--db", db).stdout
    r = cstui("label", "S-000010", "--run", "candidate", "--evaluator", "pii_leak", "--verdict", "pass", "--db", db)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "read-only" in r.stderr


async def test_the_tui_browses_a_read_only_database_and_says_it_cannot_save(read_only_demo):
    from tuikit import settle

    from cstui.app import create_app

    app = create_app(read_only_demo, run="candidate", session="S-000010")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "read-only" in app.sub_title
        assert type(app.screen).__name__ == "SessionDetailScreen"
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        shown = " ".join(str(n.message) for n in app._notifications)
        assert "read-only" in shown


def test_read_only_flag_opens_read_only_and_refuses_writing_commands(demo_db, cli):
    before = sha(demo_db)
    assert cli("report", "--run", "candidate", "--read-only", "--db", demo_db).code == 0
    assert sha(demo_db) == before
    r = cli("label", "S-000010", "--run", "candidate", "--note", "x", "--read-only", "--db", demo_db)
    assert r.code == 2 and "--read-only" in r.err


# ---------------------------------------------------------------------------------------------- one line, one code
@pytest.mark.parametrize("command", [[], ["runs"], ["report", "--run", "candidate"], ["gate", "--run", "x"],
                                     ["label", "S-1", "--note", "x"], ["audit", "verify"], ["eval", "--run", "x"],
                                     ["export", "--run", "x", "--what", "results", "--out", "/tmp/x.jsonl"],
                                     ["search", "x", "--run", "x"], ["doctor"], ["prune"]])
@pytest.mark.parametrize("what", ["directory", "missing", "not-sqlite", "corrupt"])
def test_a_bad_database_path_is_one_line_and_exit_2_for_every_command(tmp_path, demo_db, command, what):
    if what == "directory":
        db = tmp_path
    elif what == "missing":
        db = tmp_path / "missing.db"
    elif what == "not-sqlite":
        db = tmp_path / "notes.db"
        db.write_text("just some notes\n" * 100)
    else:
        db = tmp_path / "corrupt.db"
        data = bytearray(demo_db.read_bytes())
        data[100:4096 * 3] = b"\xff" * (4096 * 3 - 100)
        db.write_bytes(bytes(data))
    r = cstui("--db", db, *command) if not command else cstui(*command, "--db", db)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr, r.stderr


def test_an_internal_error_is_one_line_exit_3_with_the_traceback_in_a_file(demo_db, cli, monkeypatch):
    from cstui import report_text

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(report_text, "render_report", broken)
    r = cli("report", "--run", "candidate", "--db", demo_db)
    assert r.code == 3 and r.err.count("\n") == 1 and "internal error: ZeroDivisionError: a bug" in r.err
    where = r.err.split("traceback in ")[1].split(";")[0]
    assert "ZeroDivisionError" in Path(where).read_text()


def test_a_full_disk_during_import_is_one_line_and_leaves_the_file_as_it_was(demo_db, tmp_path):
    """A tmpfs too small for the import: SQLite's 'database or disk is full', not a traceback."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        db = mnt / "d.db"
        with Store(demo_db) as store:
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.write_bytes(demo_db.read_bytes())
        before = sha(db)
        from test_hardening import big_file

        src = big_file(tmp_path, 20_000)
        r = cstui("import", src, "--run", "big", "--db", db)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "disk is full" in r.stderr, r.stderr
        with Store(db) as store:
            assert not store.has_run("big")
        assert sha(db) == before
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# ---------------------------------------------------------------------------------------------- sizes, exports, workers
def test_a_50mb_turn_is_cut_at_import_with_a_warning_and_eval_stays_small(tmp_path):
    src = tmp_path / "huge.jsonl"
    with src.open("w") as fh:
        fh.write(json.dumps({"session_id": "huge", "intent": "refund_request", "turns": [
            {"role": "customer", "text": "refund please " * (50_000_000 // 14)},
            {"role": "assistant", "text": "I've issued your refund."}]}) + "\n")
    db = tmp_path / "h.db"
    r = cstui("import", src, "--run", "h", "--db", db)
    assert r.returncode == 0 and "cut to 100,000" in r.stdout and "1 warning" in r.stdout, r.stdout + r.stderr
    script = ("import resource, subprocess, sys; r = subprocess.run([sys.executable, '-m', 'cstui', 'eval', '--run', 'h',"
              f" '--db', {str(db)!r}, '--processes', '1', '--no-drift']); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip().splitlines()[-1]) < 500 * 1024  # KB


def test_a_session_over_the_size_limit_is_rejected_at_its_line(tmp_path, cli):
    config = tmp_path / "cstui.toml"
    config.write_text("max_session_bytes = 1000\n")
    src = tmp_path / "s.jsonl"
    src.write_text('{"session_id": "a", "turns": [{"role": "customer", "text": "hi"}]}\n'
                   + json.dumps({"session_id": "b", "turns": [{"role": "customer", "text": "x" * 5000}]}) + "\n")
    r = cstui("import", src, "--run", "r", "--db", tmp_path / "d.db", env={"CSTUI_CONFIG": str(config)})
    assert r.returncode == 2 and f"{src}:2:" in r.stderr and "max_session_bytes" in r.stderr


def test_export_to_dev_stdout_writes_the_rows_and_leaves_the_device_alone(demo_db):
    with Store(demo_db) as store:
        rows = sum(1 for _ in store.iter_result_rows("candidate"))
    before = os.stat("/dev/null")
    r = subprocess.run([sys.executable, "-m", "cstui", "export", "--run", "candidate", "--what", "labels",
                        "--format", "jsonl", "--out", "/dev/null", "--db", str(demo_db)], capture_output=True)
    assert r.returncode == 0
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_mode, after.st_rdev) == (before.st_ino, before.st_mode, before.st_rdev)
    r = subprocess.run([sys.executable, "-m", "cstui", "export", "--run", "candidate", "--what", "results",
                        "--format", "jsonl", "--out", "/dev/stdout", "--db", str(demo_db)], capture_output=True)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == rows
    r = subprocess.run([sys.executable, "-m", "cstui", "export", "--run", "candidate", "--what", "results",
                        "--format", "jsonl", "--out", "-", "--db", str(demo_db)], capture_output=True)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == rows


def test_export_into_a_fifo_keeps_it_a_fifo(demo_db, tmp_path):
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = cstui("export", "--run", "candidate", "--what", "labels", "--format", "jsonl", "--out", fifo, "--db", demo_db)
    reader.join(timeout=60)
    assert r.returncode == 0 and stat.S_ISFIFO(os.stat(fifo).st_mode) and got == [b""]


def test_pool_workers_exit_when_eval_is_killed(demo_db, tmp_path):
    import signal
    import time

    from test_hardening import big_file

    src = big_file(tmp_path, 20_000)
    assert cstui("import", src, "--run", "big", "--db", demo_db).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "cstui", "eval", "--run", "big", "--db", str(demo_db),
                             "--processes", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    children: list[int] = []
    while time.monotonic() < deadline and len(children) < 2:
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
        children = [int(p) for p in out.split()]
        time.sleep(0.2)
    assert children, "the pool never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in children):
        time.sleep(0.2)
    alive = [p for p in children if Path(f"/proc/{p}").exists()
             and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()]
    assert not alive


# ---------------------------------------------------------------------------------------------- the audit
def _verify(cli, db, *extra, env=None):
    if env:
        return cstui("audit", "verify", "--db", db, *extra, env=env)
    return cli("audit", "verify", "--db", db, *extra)


def test_a_kept_head_detects_a_cut_tail_and_a_wiped_log(demo_db, cli):
    assert cli("label", "S-000010", "--run", "candidate", "--note", "first", "--db", demo_db).code == 0
    head = cli("audit", "head", "--db", demo_db).out.strip()
    assert len(head) == 64
    assert cli("audit", "verify", "--expect-head", head, "--db", demo_db).code == 0
    with sqlite3.connect(demo_db) as conn:  # the newest label and its record: consistent, but cut short
        conn.execute("DELETE FROM labels WHERE id = (SELECT max(id) FROM labels)")
        conn.execute("DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)")
    assert cli("audit", "verify", "--db", demo_db).code == 0  # without the head nothing shows
    r = cli("audit", "verify", "--expect-head", head, "--db", demo_db)
    assert r.code == 1 and "not in the audit log" in r.out and "head " in r.out
    with sqlite3.connect(demo_db) as conn:
        conn.execute("DELETE FROM labels")
        conn.execute("DELETE FROM audit")
        conn.execute("DELETE FROM drift_events WHERE note IS NOT NULL")
    r = cli("audit", "verify", "--expect-head", head, "--db", demo_db)
    assert r.code == 1 and "not in the audit log" in r.out


def test_an_hmac_keyed_chain_detects_a_recomputed_chain(demo_db, cli):
    from cstui.store import audit_hash

    env = {"CSTUI_AUDIT_KEY": "a secret kept outside the file"}
    for verdict in ("pass", "fail"):
        assert cstui("label", "S-000010", "--run", "candidate", "--evaluator", "pii_leak", "--verdict", verdict,
                     "--db", demo_db, env=env).returncode == 0
    r = _verify(cli, demo_db, env=env)
    assert r.returncode == 0 and "2 signed" in r.stdout
    with sqlite3.connect(demo_db) as conn:  # the forger edits the label and its record, and rehashes the chain
        conn.execute("UPDATE labels SET verdict = 'pass' WHERE id = (SELECT max(id) FROM labels)")
        rid, at, actor, action, payload, prev = conn.execute(
            "SELECT id, at, actor, action, payload, prev_hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        payload = payload.replace('"verdict":"fail"', '"verdict":"pass"')
        conn.execute("UPDATE audit SET payload = ?, hash = ? WHERE id = ?",
                     (payload, audit_hash(prev, at, actor, action, payload), rid))
    assert _verify(cli, demo_db).code == 0  # the unkeyed chain cannot tell
    r = _verify(cli, demo_db, env=env)
    assert r.returncode == 1 and "HMAC does not match" in r.stdout
    with sqlite3.connect(demo_db) as conn:  # or drops the HMAC after signed records (all of them: a kept head)
        conn.execute("UPDATE audit SET mac = NULL WHERE id = ?", (rid,))
    r = _verify(cli, demo_db, env=env)
    assert r.returncode == 1 and "unsigned after signed" in r.stdout


@pytest.mark.parametrize("tamper,expect", [
    ("UPDATE drift_events SET note = NULL WHERE id = {e}", "note differs"),
    ("DELETE FROM drift_events WHERE id = {e}", "deleted, though its note"),
    ("UPDATE drift_events SET noted_by = 'someone else' WHERE id = {e}", "who noted it"),
    ("UPDATE golden SET reason = 'changed' WHERE id = {g}", "reason differs"),
    ("UPDATE golden SET added_by = 'mallory' WHERE id = {g}", "added_by differs"),
    ("UPDATE golden SET doc = doc || ' ' WHERE id = {g}", "session document differs"),
    ("UPDATE golden SET session_id = 'S-000011' WHERE id = {g}", "session_id differs"),
    ("UPDATE verdicts SET rationale = 'edited' WHERE id = (SELECT max(id) FROM verdicts)", "differ from their audited"),
    ("UPDATE verdicts SET passed = 1 - passed WHERE id = (SELECT min(id) FROM verdicts WHERE passed IS NOT NULL"
     " AND vset = (SELECT max(id) FROM verdict_sets))", "differ from their audited"),
    ("DELETE FROM verdicts WHERE id = (SELECT max(id) FROM verdicts)", "differ from their audited"),
    ("UPDATE verdict_sets SET evaluator_version = '99' WHERE id = (SELECT max(id) FROM verdict_sets)", "differs"),
    ("UPDATE verdict_sets SET superseded = 1 - superseded WHERE id = (SELECT max(id) FROM verdict_sets)",
     "outside cstui"),
])
def test_edits_to_drift_notes_golden_cases_and_verdict_sets_are_detected(demo_db, cli, tamper, expect):
    assert cli("eval", "--run", "candidate", "--evaluators", "pii_leak,authorization_fabrication",
               "--db", demo_db).code == 0
    events = json.loads(cli("drift", "--db", demo_db, "--json").out)
    assert cli("drift", "note", str(events[0]["id"]), "rolled back", "--db", demo_db).code == 0
    assert cli("golden", "add", "S-000010", "--run", "candidate", "--reason", "refund promise", "--db",
               demo_db).code == 0
    r = cli("audit", "verify", "--db", demo_db)
    assert r.code == 0 and "evaluations' verdicts match" in r.out, r.out
    with sqlite3.connect(demo_db) as conn:
        g = conn.execute("SELECT max(id) FROM golden").fetchone()[0]
        conn.executescript(tamper.format(e=events[0]["id"], g=g))
    r = cli("audit", "verify", "--db", demo_db)
    assert r.code == 1 and expect in r.out, r.out


def test_a_prune_keeps_the_audit_of_verdicts_verifiable(demo_db, cli):
    assert cli("eval", "--run", "candidate", "--db", demo_db).code == 0
    with Store(demo_db) as store:  # a rerun of one session retires that session's verdicts row by row
        from cstui import evaluation

        evaluation.run(store, "candidate", evaluation.resolve(None), ["S-000010"])
    assert cli("prune", "--db", demo_db).code == 0
    r = cli("audit", "verify", "--db", demo_db)
    assert r.code == 0, r.out
    with sqlite3.connect(demo_db) as conn:
        conn.execute("UPDATE verdicts SET label = 'x' WHERE id = (SELECT min(id) FROM verdicts)")
    assert cli("audit", "verify", "--db", demo_db).code == 1


async def test_a_session_whose_stored_evidence_and_labels_were_edited_into_nonsense_still_opens(demo_db):
    """Evidence, labels and a judge transcript are read from the file as typed records: an item that is not evidence
    or a step is left out, a tier or a cost that is not a number is not shown as one, no escape sequence reaches the
    terminal, and the screens show what is left instead of failing."""
    from tuikit import settle

    from cstui.app import create_app
    from cstui.triage import session_view

    evidence = json.dumps(["turn 3", {"turn_index": "x"}, {"turn_index": 0, "snippet": "kept", "start": None}, 7])
    detail = json.dumps({"model": 5, "strategy": ["x"], "verdict": {"fabricated": True},
                         "steps": ["step", {"step": 1, "prompt": None, "reply": "\x1b]52;c;ZXZpbA==\x07shown",
                                            "cost_usd": "free", "prompt_tokens": "many", "cached": "yes"}]})
    with sqlite3.connect(demo_db) as conn:
        sid = conn.execute("SELECT id FROM sessions WHERE run = 'candidate' AND session_id = 'S-000099'").fetchone()[0]
        changed = conn.execute("UPDATE verdicts SET evidence = ?, detail = ? WHERE sid = ? AND passed = 0",
                               (evidence, detail, sid)).rowcount
        conn.execute("INSERT INTO labels (run, session_id, evaluator, verdict, tier, correct, reviewer, source,"
                     " created_at) VALUES ('candidate', 'S-000099', NULL, NULL, 'x', 'yes', 5, 'triage', 7)")
    assert changed >= 1
    with Store(demo_db) as store:
        view = session_view(store, "candidate", "S-000099")
    failing = view.failed[0]
    assert [(e.turn_index, e.snippet) for e in failing.evidence] == [(0, "kept")]
    assert view.labels[-1].tier is None and view.labels[-1].reviewer == "5" and view.labels[-1].correct is True
    app = create_app(demo_db, run="candidate", session="S-000099")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "SessionDetailScreen"
        assert "turn 0" in str(app.screen.query_one("#why-text").render())
        assert "correct=True" in str(app.screen.query_one("#label-history").render())
        await pilot.press("J")  # the "judge transcript" stored with the verdict: typed, what is not a step left out
        await pilot.pause()
        assert type(app.screen).__name__ == "JudgeTranscriptScreen"
        shown = str(app.screen.query_one("Static").render())
        assert "model 5" in shown and "0+0 tokens" in shown and "shown" in shown and "\x1b" not in shown
    step = failing.transcript.steps[0]
    assert len(failing.transcript.steps) == 1 and (step.step, step.cost_usd, step.cached) == ("1", None, False)
