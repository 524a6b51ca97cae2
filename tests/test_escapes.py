"""The escape corpus through every command and every screen: no string from a file reaches the terminal as a
control sequence, hides as an invisible character, or forges a row (cstui.textsafe: SafeStream, json_safe,
InertFilter)."""

from __future__ import annotations

import json
import re
import sqlite3

import orjson
import pytest

from cstui.demo import sample_file
from cstui.store import Store

ESCAPES = [
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: set the clipboard
    "\x1b]0;owned title\x07", "\x1b]2;owned\x1b\\",  # OSC 0/2: window title
    "\x1b[2J\x1b[31m", "\x1bP1$r\x1b\\",  # CSI, DCS
    "\x9b2J", "\x9d0;t\x9c", "\x85",  # C1: 8-bit CSI, OSC, NEL
    "\u061c", "\u202e", "\u2066", "\u200b",  # bidi marks and overrides, zero width
    "\U000e0041\U000e0042",  # tag characters (hidden text)
    "\nforged row", "\roverwrite", "\x00\x07\x08",
]
H = "h" + "".join(ESCAPES) + "[bold]markup[/]"
A = H.replace("\x00", "")  # what a command line can carry (no NUL): run names, session ids, notes
# What must never be in what cstui prints: ESC, BEL, C1, and raw bidi, zero-width or tag characters.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]")


def assert_inert(text: str, where: object) -> None:
    bad = FORBIDDEN.search(text)
    assert bad is None, (where, repr(text[max(0, bad.start() - 40):bad.end() + 40]) if bad else None)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, demo_db_template):
    """A database whose every free-text field carries the corpus: run names, session ids, strata, turns, tool
    names and results, KB articles, an evaluator id no install knows (an imported score), a drift event's scope,
    a run's created_at, a regression case, a review queue, a label note."""
    from conftest import copy_db, run_cli

    tmp = tmp_path_factory.mktemp("escapes")
    db = copy_db(demo_db_template, tmp / "h.db")
    docs = []
    for i, line in enumerate(sample_file("candidate.jsonl").read_text().splitlines()[:6]):
        doc = orjson.loads(line)
        doc.update(session_id=f"S-{i}{A}", intent=H, channel=H, segment=H, category=H)
        doc["turns"][0]["text"] = H
        doc["imported_scores"] = [{"name": H, "value": 0, "dataType": "BOOLEAN", "comment": H}]
        for span in doc.get("spans", []):
            span["name"] = H
            span.setdefault("attributes", {})["result"] = H
        doc.setdefault("outcome", {})["correct"] = False
        docs.append(doc)
    src = tmp / f"hostile{H.replace('/', '_').replace(chr(0), '')}.jsonl"
    src.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    kb = tmp / "kb.jsonl"
    kb.write_bytes(orjson.dumps({"schema": "cstui.kb/v1", "id": "KB-" + H, "revision": 1, "status": "current",
                                 "title": H, "body": H}) + b"\n")
    run = "run" + A
    for args in (["import", src, "--run", run, "--kb", kb, "--system", "sys" + H],
                 ["import", src, "--run", run + "2", "--system", "sys" + H], ["eval", "--run", run],
                 ["eval", "--run", run + "2"],
                 ["label", f"S-0{A}", "--run", run, "--evaluator", "pii_leak", "--verdict", "fail", "--note", A],
                 ["golden", "add", f"S-0{A}", "--run", run, "--reason", A],
                 ["review", "--run", run, "--sample", "3", "--name", "q" + A]):
        r = run_cli(*args, "--db", db)
        assert r.code in (0, 1), (args, r.err)
    with Store(db) as store:
        store.record_drift(run + "2", run, [{"metric": "pass_rate:" + H, "scope": H, "previous": 0.9, "current": 0.5,
                                             "delta": -0.4, "n_previous": 6, "n_current": 6, "p_value": 0.01}])
    with sqlite3.connect(db) as conn:  # what someone else's file can hold anywhere cstui does not write itself
        conn.execute("UPDATE runs SET created_at = ? WHERE name = ?", (H, run))
    return {"db": db, "run": run, "src": src, "tmp": tmp}


COMMANDS = [
    ["runs"], ["runs", "--json"], ["report", "--run", "{run}"], ["report", "--run", "{run}", "--json"],
    ["report", "--run", "{run}", "--by", "intent"], ["report", "--run", "{run}", "--by", "channel"],
    ["gate", "--run", "{run}"], ["gate", "--run", "{run}2", "--baseline", "{run}"], ["gate", "--run", "{run}", "--json"],
    ["drift"], ["drift", "--json"], ["drift", "--run", "{run}2"], ["golden", "list"], ["golden", "list", "--json"],
    ["review"], ["review", "--json"], ["search", "h", "--run", "{run}"], ["search", "h", "--run", "{run}", "--json"],
    ["validate", "--run", "{run}"], ["audit", "verify"], ["audit", "head"], ["doctor"], ["prune", "--dry-run"],
    ["evaluators"], ["schema"], ["config", "show"],
    ["label", "S-0" + A, "--run", "{run}", "--note", A], ["label", "nope" + A, "--run", "{run}", "--note", "x"],
    ["report", "--run", "nope" + A], ["eval", "--run", "{run}", "--evaluators", "pii_leak"],
    ["sample", "--run", "{run}", "--size", "2", "--seed", "1", "--into", "s" + A],
    ["export", "--run", "{run}", "--what", "evidence", "--format", "jsonl", "--out", "-"],
    ["drift", "note", "1", A],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:3])[:40])
def test_every_command_prints_the_escape_corpus_inertly(hostile, command):
    from test_untrusted import cstui

    args = [a.replace("{run}", hostile["run"]) for a in command]
    r = cstui(*args, "--db", hostile["db"])
    assert r.returncode in (0, 1, 2) and "Traceback" not in r.stderr, (command, r.stderr)
    assert_inert(r.stdout, command)
    assert_inert(r.stderr, command)
    if args[-1] == "--json" or "--out" in args:
        for line in ([r.stdout] if args[-1] == "--json" else r.stdout.splitlines()):
            json.loads(line)  # still valid JSON, the data escaped rather than dropped


def test_a_run_name_with_a_newline_cannot_forge_a_row(hostile):
    from test_untrusted import cstui

    r = cstui("runs", "--db", hostile["db"])
    with Store(hostile["db"]) as store:
        n = len(store.runs())
    assert len(r.stdout.strip().splitlines()) == n + 1  # the header and one line a run
    doc = json.loads(cstui("runs", "--json", "--db", hostile["db"]).stdout)
    assert hostile["run"] in {d["name"] for d in doc}  # JSON keeps the name exactly (escaped, not dropped)


def test_an_import_names_a_hostile_file_inertly(hostile, tmp_path):
    from test_untrusted import cstui

    r = cstui("import", hostile["src"], "--run", "again", "--db", tmp_path / "x.db")
    assert r.returncode == 0
    assert_inert(r.stdout + r.stderr, "import")
    bad = tmp_path / f"bad{H.replace('/', '_').replace(chr(0), '')}.jsonl"
    bad.write_text("{not json\n")
    r = cstui("import", bad, "--run", "bad", "--db", tmp_path / "x.db")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert_inert(r.stderr, "import error")


def test_exports_keep_the_corpus_byte_for_byte(hostile, tmp_path):
    from test_untrusted import cstui

    out = tmp_path / "sessions.jsonl"
    assert cstui("export", "--run", hostile["run"], "--what", "sessions", "--format", "jsonl", "--out", out,
                 "--db", hostile["db"]).returncode == 0
    text = out.read_text()
    assert_inert(text, "export file")  # escaped as \u sequences ...
    first = json.loads(text.splitlines()[0])
    assert first["turns"][0]["text"] == H  # ... which decode to exactly what came in


async def test_every_screen_shows_the_escape_corpus_inertly(hostile):
    from tuikit import screen_text, settle

    from cstui.app import create_app

    run = hostile["run"]
    seen: list[str] = []
    app = create_app(hostile["db"], run=run)

    async def look(where: str) -> None:
        await settle(pilot)
        text = screen_text(app)
        assert_inert(text, where)
        seen.append(text)

    async with app.run_test(size=(160, 48)) as pilot:
        await look("dashboard")
        for key in "1234567":
            await pilot.press(key)
            await look(f"dashboard tab {key}")
        await pilot.press("f")
        await look("failures")
        await pilot.press("enter")
        await look("session")
        for key in ("tab", "j", "j", "tab", "j"):
            await pilot.press(key)
            await look(f"session after {key}")
        await pilot.press("K")
        await look("kb dialog")
        await pilot.press("escape")
        await pilot.press("l")
        await look("relabel dialog")
        await pilot.press("escape")
        await pilot.press("r")
        await look("rerun dialog")
        await pilot.press("escape")
        await pilot.press("question_mark")
        await look("help")
        await pilot.press("escape")
        for _ in range(4):
            await pilot.press("escape")
            await settle(pilot)
        await look("runs")
    app = create_app(hostile["db"], queue="q" + A)
    async with app.run_test(size=(160, 48)) as pilot:
        await look("review queue")
        await pilot.press("n")
        await look("review note")
    app = create_app(hostile["db"], run=run + "2", baseline=run)
    async with app.run_test(size=(160, 48)) as pilot:
        await look("dashboard with baseline")
        await pilot.press("c")
        await look("compare")
    assert any("<U+202E>" in text for text in seen)  # shown as what they are, where text is prepared
    assert any("[bold]markup[/]" in text for text in seen)  # never parsed as markup
